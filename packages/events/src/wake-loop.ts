export type WakeLoop = {
  /** Runs the step again as soon as the running one ends (or at once, when idle). */
  wake(): void;
  /** Lets the running step finish; no other starts. */
  stop(): Promise<void>;
};

/**
 * Runs `step` over and over, one at a time: again at once while it reports more work, else after
 * `wake()` or `pollMs`, whichever comes first. A failing step is reported and retried the same way.
 */
export function wakeLoop(step: () => Promise<boolean>, pollMs: number, onError: (error: unknown) => void = () => {}): WakeLoop {
  let stopped = false;
  let signalled = false;
  let resume: (() => void) | undefined;
  const done = (async () => {
    while (!stopped) {
      signalled = false;
      let more = false;
      try {
        more = await step();
      } catch (error) {
        onError(error);
      }
      if (more || stopped || signalled) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        resume = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      resume = undefined;
    }
  })();
  return {
    wake() {
      signalled = true;
      resume?.();
    },
    async stop() {
      stopped = true;
      resume?.();
      await done;
    },
  };
}
