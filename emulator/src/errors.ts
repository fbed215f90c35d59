/** Errors in Graph's JSON shape (docs/graph-api.md §10). */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(requestId: string, clientRequestId: string | undefined): unknown {
    const inner: Record<string, unknown> = {
      date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
      'request-id': requestId,
      'client-request-id': clientRequestId ?? requestId,
    };
    if (this.innerCode) inner.code = this.innerCode;
    return { error: { code: this.code, message: this.message, innerError: inner } };
  }
}

export const notFound = (what = 'Item not found') => new GraphError(404, 'itemNotFound', what);
export const badRequest = (message: string, inner?: string) => new GraphError(400, 'invalidRequest', message, inner);
export const nameExists = (name: string) =>
  new GraphError(409, 'nameAlreadyExists', `An item with the name '${name}' already exists in this location.`);
export const preconditionFailed = () =>
  new GraphError(412, 'resourceModified', "ETag does not match current item's value", 'entityTagDoesNotMatch');
export const quotaExceeded = () => new GraphError(507, 'quotaLimitReached', 'Insufficient Space Available', 'quotaLimitReached');
