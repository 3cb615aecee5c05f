// DMTF Base message registry entries we answer with, and the Redfish error body built from
// them (Redfish spec §9.6 "Error responses"). Message texts follow Base.1.19.0 word for word so
// clients that look MessageIds up in the DMTF registry see the same text.

export const BASE_REGISTRY = 'Base.1.19.0';

interface MessageDef {
  text: string;
  severity: 'OK' | 'Warning' | 'Critical';
  resolution: string;
}

const DEFS = {
  Success: { text: 'The request completed successfully.', severity: 'OK', resolution: 'None.' },
  Created: { text: 'The resource was created successfully.', severity: 'OK', resolution: 'None.' },
  GeneralError: {
    text: 'A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.',
    severity: 'Critical',
    resolution: 'None.',
  },
  InternalError: {
    text: 'The request failed due to an internal service error.  The service is still operational.',
    severity: 'Critical',
    resolution: 'Resubmit the request.  If the problem persists, consider resetting the service.',
  },
  MalformedJSON: {
    text: 'The request body submitted was malformed JSON and could not be parsed by the receiving service.',
    severity: 'Critical',
    resolution: 'Ensure that the request body is valid JSON and resubmit the request.',
  },
  UnrecognizedRequestBody: {
    text: 'The service detected a malformed request body that it was unable to interpret.',
    severity: 'Warning',
    resolution: 'Correct the request body and resubmit the request if it failed.',
  },
  PayloadTooLarge: {
    text: 'The supplied payload exceeds the maximum size supported by the service.',
    severity: 'Critical',
    resolution: 'Check that the supplied payload is correct and supported by this service.',
  },
  PropertyUnknown: {
    text: 'The property %1 is not in the list of valid properties for the resource.',
    severity: 'Warning',
    resolution: 'Remove the unknown property from the request body and resubmit the request if the operation failed.',
  },
  PropertyMissing: {
    text: 'The property %1 is a required property and must be included in the request.',
    severity: 'Warning',
    resolution:
      'Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed.',
  },
  PropertyValueTypeError: {
    text: "The value '%1' for the property %2 is not a type that the property can accept.",
    severity: 'Warning',
    resolution:
      'Correct the value for the property in the request body and resubmit the request if the operation failed.',
  },
  PropertyValueFormatError: {
    text: "The value '%1' for the property %2 is not a format that the property can accept.",
    severity: 'Warning',
    resolution:
      'Correct the value for the property in the request body and resubmit the request if the operation failed.',
  },
  PropertyValueNotInList: {
    text: "The value '%1' for the property %2 is not in the list of acceptable values.",
    severity: 'Warning',
    resolution:
      'Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.',
  },
  PropertyValueError: {
    text: 'The value provided for the property %1 is not valid.',
    severity: 'Warning',
    resolution:
      'Correct the value for the property in the request body and resubmit the request if the operation failed.',
  },
  PropertyValueConflict: {
    text: "The property '%1' could not be written because its value would conflict with the value of the '%2' property.",
    severity: 'Warning',
    resolution: 'None.',
  },
  PropertyNotWritable: {
    text: 'The property %1 is a read-only property and cannot be assigned a value.',
    severity: 'Warning',
    resolution: 'Remove the property from the request body and resubmit the request if the operation failed.',
  },
  ActionNotSupported: {
    text: 'The action %1 is not supported by the resource.',
    severity: 'Critical',
    resolution: 'Check the Actions property in the resource for the supported actions.',
  },
  ActionParameterMissing: {
    text: 'The action %1 requires the parameter %2 to be present in the request body.',
    severity: 'Critical',
    resolution: 'Supply the action with the required parameter in the request body when the request is resubmitted.',
  },
  ActionParameterUnknown: {
    text: 'The action %1 was submitted with the invalid parameter %2.',
    severity: 'Warning',
    resolution: 'Correct the invalid action parameter and resubmit the request if the operation failed.',
  },
  ActionParameterNotSupported: {
    text: 'The parameter %1 for the action %2 is not supported on the target resource.',
    severity: 'Warning',
    resolution: 'Remove the parameter supplied and resubmit the request if the operation failed.',
  },
  ResourceInUse: {
    text: 'The change to the requested resource failed because the resource is in use or in transition.',
    severity: 'Warning',
    resolution: 'Remove the condition and resubmit the request if the operation failed.',
  },
  ResourceNotFound: {
    text: "The requested resource of type %1 named '%2' was not found.",
    severity: 'Critical',
    resolution: 'Provide a valid resource identifier and resubmit the request.',
  },
  ResourceAlreadyExists: {
    text: "The requested resource of type %1 with the property %2 with the value '%3' already exists.",
    severity: 'Critical',
    resolution: 'Do not repeat the create operation as the resource was already created.',
  },
  CreateLimitReachedForResource: {
    text: 'The create operation failed because the resource has reached the limit of possible resources.',
    severity: 'Critical',
    resolution:
      'Either delete resources and resubmit the request if the operation failed or do not resubmit the request.',
  },
  ResourceMissingAtURI: {
    text: "The resource at the URI '%1' was not found.",
    severity: 'Critical',
    resolution: 'Place a valid resource at the URI or correct the URI and resubmit the request.',
  },
  ResourceAtUriInUnknownFormat: {
    text: "The resource at '%1' is in a format not recognized by the service.",
    severity: 'Critical',
    resolution: 'Place an image or resource or file that is recognized by the service at the URI.',
  },
  ResourceAtUriUnauthorized: {
    text: "While accessing the resource at '%1', the service received an authorization error '%2'.",
    severity: 'Critical',
    resolution: 'Ensure that the appropriate access is provided for the service in order for it to access the URI.',
  },
  CouldNotEstablishConnection: {
    text: "The service failed to establish a connection with the URI '%1'.",
    severity: 'Critical',
    resolution:
      'Ensure that the URI contains a valid and reachable node name, protocol information, and other URI components.',
  },
  NoValidSession: {
    text: 'There is no valid session established with the implementation.',
    severity: 'Critical',
    resolution: 'Establish a session before attempting any operations.',
  },
  InsufficientPrivilege: {
    text: 'There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.',
    severity: 'Critical',
    resolution:
      'Either abandon the operation or change the associated access rights and resubmit the request if the operation failed.',
  },
  OperationNotAllowed: {
    text: 'The HTTP method is not allowed on this resource.',
    severity: 'Critical',
    resolution: 'None.',
  },
  PreconditionFailed: {
    text: 'The ETag supplied did not match the ETag required to change this resource.',
    severity: 'Critical',
    resolution: 'Try the operation again using the appropriate ETag.',
  },
  OperationTimeout: {
    text: 'A timeout internal to the service occurred as part of the request.  Partial results may have been returned.',
    severity: 'Warning',
    resolution: 'Resubmit the request.  If the problem persists, consider resetting the service or provider.',
  },
  ServiceTemporarilyUnavailable: {
    text: 'The service is temporarily unavailable.  Retry in %1 seconds.',
    severity: 'Critical',
    resolution: 'Wait for the indicated retry duration and retry the operation.',
  },
  InvalidURI: {
    text: 'The URI %1 was not found.',
    severity: 'Critical',
    resolution: 'Provide a valid URI and resubmit the request.',
  },
  ResourceCannotBeDeleted: {
    text: 'The delete request failed because the resource requested cannot be deleted.',
    severity: 'Critical',
    resolution: 'Do not attempt to delete a non-deletable resource.',
  },
} satisfies Record<string, MessageDef>;

export type MessageId = keyof typeof DEFS;

export interface RedfishMessage {
  '@odata.type': '#Message.v1_1_1.Message';
  MessageId: string;
  Message: string;
  MessageArgs: string[];
  MessageSeverity: string;
  Resolution: string;
  RelatedProperties?: string[];
}

export interface MessageOptions {
  /** JSON pointers of the properties concerned, e.g. "#/Image". */
  related?: string[];
  /** Replaces the registry's generic resolution with what this client should actually do. */
  resolution?: string;
}

export function message(id: MessageId, args: readonly string[] = [], opts: MessageOptions = {}): RedfishMessage {
  const def: MessageDef = DEFS[id];
  const text = def.text.replace(/%(\d+)/g, (_m, n: string) => args[Number(n) - 1] ?? '');
  return {
    '@odata.type': '#Message.v1_1_1.Message',
    MessageId: `${BASE_REGISTRY}.${id}`,
    Message: text,
    MessageArgs: [...args],
    MessageSeverity: def.severity,
    Resolution: opts.resolution ?? def.resolution,
    ...(opts.related ? { RelatedProperties: opts.related } : {}),
  };
}

/** A failed request: HTTP status plus the DMTF message(s) that explain it. */
export class RedfishError extends Error {
  readonly messages: RedfishMessage[];
  /** Extra response headers, e.g. Retry-After or Allow. */
  readonly headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    first: RedfishMessage,
    ...more: RedfishMessage[]
  ) {
    super(first.Message);
    this.name = 'RedfishError';
    this.messages = [first, ...more];
  }

  withHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }

  body(): object {
    const first = this.messages[0]!; // the constructor takes at least one
    return { error: { code: first.MessageId, message: first.Message, '@Message.ExtendedInfo': this.messages } };
  }
}

export function redfishError(
  status: number,
  id: MessageId,
  args: readonly string[] = [],
  opts?: MessageOptions,
): RedfishError {
  return new RedfishError(status, message(id, args, opts));
}
