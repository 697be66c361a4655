import cluster, { type Worker } from 'node:cluster';
import { type BucketLimit, memoryRateLimiter, type RateDecision, type RateLimiter } from './rate-limit.ts';

const TAKE = 'tenantgraph:rate-limit:take';
const ANSWER = 'tenantgraph:rate-limit:answer';

type TakeMessage = { type: typeof TAKE; id: number; key: string; limit: BucketLimit; amount: number };
type AnswerMessage = { type: typeof ANSWER; id: number; decision: RateDecision };

/**
 * In the primary process of `GATEWAY_WORKERS`: keeps the one set of buckets every worker takes
 * from (`workerRateLimiter`), so N workers still give each tenant one budget, not N.
 * @example if (cluster.isPrimary) serveRateLimitsToWorkers()
 */
export function serveRateLimitsToWorkers(limiter: RateLimiter = memoryRateLimiter()): () => void {
  const onMessage = (worker: Worker, message: unknown) => {
    if (!isMessage<TakeMessage>(message, TAKE)) return;
    void limiter.take(message.key, message.limit, message.amount).then((decision) => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id: message.id, decision } satisfies AnswerMessage);
    });
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}

/**
 * In a worker: takes from the primary's buckets over IPC. When the primary does not answer
 * within `timeoutMs` (it is busy or gone), this worker's own buckets decide: a limit, never none.
 */
export function workerRateLimiter({
  timeoutMs = 1_000,
  fallback = memoryRateLimiter(),
}: {
  timeoutMs?: number;
  fallback?: RateLimiter;
} = {}): RateLimiter {
  const pending = new Map<number, (decision: RateDecision) => void>();
  let next = 0;
  const onMessage = (message: unknown) => {
    if (!isMessage<AnswerMessage>(message, ANSWER)) return;
    pending.get(message.id)?.(message.decision);
    pending.delete(message.id);
  };
  process.on('message', onMessage);
  return {
    take(key, limit, amount = 1) {
      if (!process.send || !process.connected) return fallback.take(key, limit, amount);
      const id = next++;
      return new Promise<RateDecision>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(fallback.take(key, limit, amount));
        }, timeoutMs);
        pending.set(id, (decision) => {
          clearTimeout(timer);
          resolve(decision);
        });
        process.send?.({ type: TAKE, id, key, limit, amount } satisfies TakeMessage);
      });
    },
    async close() {
      process.off('message', onMessage);
      await fallback.close();
    },
  };
}

function isMessage<M extends { type: string }>(message: unknown, type: M['type']): message is M {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
