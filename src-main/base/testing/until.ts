/**
 * Waits in tests until `condition` holds (checked every few milliseconds), or fails naming what it
 * waited for: for state the code under test reports by changing it, not by an event.
 */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
