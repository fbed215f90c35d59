/**
 * The engine's outside face: calls and events over a Unix socket (and later a loopback WebSocket).
 * One JSON object per line. Payloads are validated on arrival with these schemas.
 *
 *   → {"id": 1, "method": "status", "params": {}}
 *   ← {"id": 1, "result": {...}}            or  {"id": 1, "error": {"code": "...", "message": "..."}}
 *   ← {"event": "transfers", "payload": {...}}   (after "subscribe")
 */
import { z } from 'zod';
import { ConnectivitySchema, ShutdownProgressSchema, TransferItemSchema } from '../model/transfer.ts';

export const EngineStateSchema = z.enum(['starting', 'syncing', 'ready', 'offline', 'stopping']);
export type EngineState = z.infer<typeof EngineStateSchema>;

export const QuotaSchema = z.object({
  total: z.number().nonnegative(),
  used: z.number().nonnegative(),
  remaining: z.number().nonnegative(),
  state: z.string().optional(),
});

export const EngineStatusSchema = z.object({
  account: z.string(),
  mountpoint: z.string(),
  state: EngineStateSchema,
  driveType: z.string().optional(),
  items: z.number().int().nonnegative(),
  cachedBytes: z.number().nonnegative(),
  quota: QuotaSchema.optional(),
  lastSyncAt: z.number().optional(),
  lastSyncError: z.string().optional(),
  connectivity: ConnectivitySchema.optional(),
  throttledUntil: z.number().optional(),
  transfers: z.array(TransferItemSchema),
  pid: z.number().int(),
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;

/** Calls: method → params and result schemas. */
export const Calls = {
  status: { params: z.object({}).strict(), result: EngineStatusSchema },
  syncNow: { params: z.object({}).strict(), result: z.object({ started: z.boolean() }) },
  subscribe: { params: z.object({ events: z.array(z.string()).optional() }).strict(), result: z.object({ ok: z.literal(true) }) },
  quit: { params: z.object({}).strict(), result: z.object({ ok: z.literal(true) }) },
} as const;
export type CallName = keyof typeof Calls;
export type CallParams<M extends CallName> = z.infer<(typeof Calls)[M]['params']>;
export type CallResult<M extends CallName> = z.infer<(typeof Calls)[M]['result']>;

/** Events: name → payload schema. */
export const Events = {
  status: EngineStatusSchema,
  transfer: TransferItemSchema,
  shutdown: ShutdownProgressSchema,
} as const;
export type EventName = keyof typeof Events;
export type EventPayload<E extends EventName> = z.infer<(typeof Events)[E]>;

export const RequestSchema = z.object({ id: z.number().int(), method: z.string(), params: z.unknown().optional() });
export const ResponseSchema = z.union([
  z.object({ id: z.number().int(), result: z.unknown() }),
  z.object({ id: z.number().int(), error: z.object({ code: z.string(), message: z.string() }) }),
  z.object({ event: z.string(), payload: z.unknown() }),
]);
