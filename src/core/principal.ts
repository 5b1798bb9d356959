import type { OrgKind } from './config-schema.ts';

/** Who is asking. Resolved from a bearer token; never from anything the request body says. */
export interface Principal {
  readonly id: string;
  readonly org: string;
  readonly orgKind: OrgKind;
  readonly role: string;
  readonly tokenId: string;
  /**
   * The purpose this request states (the Enclave-Purpose header), one of gatekeeper.purposes. Platform
   * services must state one of theirs; a grant covers reads that state its purpose.
   */
  readonly purpose?: string;
}
