// Errors that carry the HTTP status and a stable code the API answers with.

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'GatewayError';
  }
}

export const notFound = (what: string) => new GatewayError(404, 'NotFound', `${what} does not exist`);
export const badRequest = (message: string) => new GatewayError(400, 'BadRequest', message);
export const conflict = (message: string) => new GatewayError(409, 'Conflict', message);
