import type { Logger } from '@tenantgraph/core';
import type { TenantEvent, TenantEventSource } from './events.ts';

/** A result as sent to the client: `{ data, errors }` of one event. */
export type DeliveryResult = { data: Record<string, unknown> | null; errors?: readonly unknown[] };

/** One open subscription of one socket, as the fan-out sees it. */
export type Subscriber<S> = {
  tenantId: string;
  eventType: string;
  /** Subscribers with the same key get the same answer: it is resolved once per event. */
  groupKey: string;
  /** Whatever `resolve` needs to answer as this subscriber (its session, its prepared lookup). */
  state: S;
  /** Takes the answer to one event, in event order (the promise may still be pending). */
  deliver(result: Promise<DeliveryResult>): void;
};

/** Event ids remembered per tenant so a redelivered event is not sent twice. */
const REMEMBERED_IDS = 1_000;

type Topic<S> = {
  subscribers: Set<Subscriber<S>>;
  listening: Promise<{ close(): Promise<void> }>;
  seen: Set<string>;
  /** The transport listens: an event committed from now on reaches the subscribers. */
  ready: boolean;
};

/**
 * One transport subscription per tenant in this process, shared by all of that tenant's
 * subscribers, opened with the first and closed with the last. Each event is resolved once per
 * group of subscribers that selected the same thing (same lookup, variables and scopes), as one of
 * them, and handed to each in order. An event whose tenant is not the topic's is dropped and logged.
 */
export function createFanOut<S>(options: {
  events: TenantEventSource;
  resolve(event: TenantEvent, subscribers: readonly Subscriber<S>[]): Promise<DeliveryResult>;
  logger: Logger;
}) {
  const topics = new Map<string, Topic<S>>();

  const dispatch = (tenantId: string, topic: Topic<S>, event: TenantEvent) => {
    if (event.tenantId !== tenantId) {
      options.logger.error('event of another tenant on a tenant subscription; dropped', { tenantId, eventTenant: event.tenantId });
      return;
    }
    if (topic.seen.has(event.id)) return;
    topic.seen.add(event.id);
    if (topic.seen.size > REMEMBERED_IDS) topic.seen.delete(topic.seen.values().next().value as string);
    const groups = new Map<string, Subscriber<S>[]>();
    for (const subscriber of topic.subscribers) {
      if (subscriber.eventType !== event.type) continue;
      const group = groups.get(subscriber.groupKey);
      if (group) group.push(subscriber);
      else groups.set(subscriber.groupKey, [subscriber]);
    }
    for (const group of groups.values()) {
      const result = options.resolve(event, group);
      for (const subscriber of group) subscriber.deliver(result);
    }
  };

  const release = async (tenantId: string, topic: Topic<S>) => {
    if (topic.subscribers.size > 0 || topics.get(tenantId) !== topic) return;
    topics.delete(tenantId);
    try {
      await (await topic.listening).close();
    } catch (error) {
      options.logger.warn('closing a tenant event subscription failed', { tenantId, error });
    }
  };

  return {
    /** Adds a subscriber; resolves once its tenant's events are being listened to, with its removal. */
    async add(subscriber: Subscriber<S>): Promise<() => void> {
      const { tenantId } = subscriber;
      let topic = topics.get(tenantId);
      if (!topic) {
        const created: Topic<S> = { subscribers: new Set(), seen: new Set(), listening: undefined as never, ready: false };
        created.listening = options.events.subscribe({ tenantId }, (event) => dispatch(tenantId, created, event));
        void created.listening.then(
          () => {
            created.ready = true;
          },
          () => {},
        );
        topic = created;
        topics.set(tenantId, topic);
      }
      topic.subscribers.add(subscriber);
      const current = topic;
      const remove = () => {
        current.subscribers.delete(subscriber);
        void release(tenantId, current);
      };
      try {
        await current.listening;
      } catch (error) {
        remove();
        throw error;
      }
      return remove;
    },
    /** Subscribers whose tenant's events are being listened to: of one tenant, or of all. */
    count(tenantId?: string) {
      let subscribers = 0;
      for (const [id, topic] of topics)
        if (topic.ready && (tenantId === undefined || id === tenantId)) subscribers += topic.subscribers.size;
      return subscribers;
    },
  };
}

/**
 * The answers of one subscription, in event order, as the async iterator graphql-ws reads (it
 * asks for the next once the socket took the last). At most `maxQueued` answers that are ready
 * wait for the socket: beyond that the client is not reading and `onOverflow` is called (it drops
 * the connection) instead of buffering without bound. Answers still being resolved do not count:
 * a burst of events does not drop a client that reads.
 */
export class DeliveryQueue implements AsyncIterableIterator<DeliveryResult> {
  private readonly queued: Promise<DeliveryResult>[] = [];
  private waiting: ((result: IteratorResult<DeliveryResult>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private ended: { error?: unknown } | undefined;
  /** Answers resolved and not yet taken by the socket. */
  private ready = 0;

  constructor(
    private readonly maxQueued: number,
    private readonly onOverflow: () => void,
    private readonly onEnd: () => void,
  ) {}

  push(result: Promise<DeliveryResult>) {
    if (this.ended) return;
    if (this.queued.length >= this.maxQueued) return this.onOverflow();
    this.queued.push(result);
    void result.then(() => {
      if (this.ended) return;
      this.ready++;
      if (this.ready > this.maxQueued) this.onOverflow();
    });
    if (this.waiting) this.pull();
  }

  /** Ends the subscription with an error sent to the client (token expired). */
  fail(error: unknown) {
    if (this.ended) return;
    this.finish({ error });
    this.failWaiting?.(error);
    this.waiting = undefined;
    this.failWaiting = undefined;
  }

  get size() {
    return this.queued.length;
  }

  next(): Promise<IteratorResult<DeliveryResult>> {
    if (this.ended && 'error' in this.ended) return Promise.reject(this.ended.error);
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
      if (this.queued.length > 0) this.pull();
    });
  }

  async return(): Promise<IteratorResult<DeliveryResult>> {
    this.finish({});
    this.waiting?.({ done: true, value: undefined });
    this.waiting = undefined;
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private pull() {
    const next = this.queued[0];
    const resolve = this.waiting;
    if (!next || !resolve) return;
    this.waiting = undefined;
    this.failWaiting = undefined;
    // Dequeued once answered, so an answer being resolved still counts against the bound.
    void next.then((value) => {
      this.queued.shift();
      this.ready--;
      resolve(this.ended ? { done: true, value: undefined } : { done: false, value });
    });
  }

  private finish(how: { error?: unknown }) {
    if (this.ended) return;
    this.ended = how;
    this.queued.length = 0;
    this.onEnd();
  }
}
