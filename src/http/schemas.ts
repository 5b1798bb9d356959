// Request and response schemas. Fastify validates requests with them and @fastify/swagger publishes them
// in /openapi.json, so the document and the behaviour cannot drift apart.
import { Type } from 'typebox';
import { RECORD_ID_PATTERN } from '../core/api-ids.ts';

const Timestamp = Type.String({ format: 'date-time' });
/** The receipt: index of the transparency-log entry this response caused (also in the Enclave-Log-Index header). */
export const LogIndex = Type.Optional(Type.Integer({ minimum: 0, description: 'Index of the transparency-log entry that records this access or change (the receipt; also in the Enclave-Log-Index header).' }));
export const RecordId = Type.String({ pattern: RECORD_ID_PATTERN, description: 'Record id: letters, digits, . _ : -; at most 128 characters.' });
export const SubjectId = Type.String({ pattern: RECORD_ID_PATTERN, description: 'Subject id (pseudonymous).' });
export const CollectionName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code; see docs/errors.md.' }),
      message: Type.String(),
      details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { $id: 'Error' },
);

export const FieldValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const RecordView = Type.Object(
  {
    collection: Type.String(),
    id: Type.String(),
    subject: Type.String(),
    version: Type.Integer({ minimum: 1 }),
    etag: Type.String({ description: 'The record\'s strong entity-tag, as in the ETag header: what If-Match takes for a conditional replace or delete.' }),
    data: Type.Record(Type.String(), FieldValue),
    withheld: Type.Array(Type.String(), { description: 'Protected fields removed for this principal (redaction).' }),
    grant: Type.Optional(
      Type.Object(
        { id: Type.String(), breakglass: Type.Boolean() },
        { description: 'The grant this read of protected fields happened under; breakglass: opened without prior approval.' },
      ),
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
    log_index: LogIndex,
  },
  { $id: 'Record' },
);

export const SubjectView = Type.Object(
  {
    id: Type.String(),
    country: Type.String(),
    jurisdiction: Type.String(),
    site: Type.String(),
    erased: Type.Boolean(),
    created_at: Timestamp,
    erased_at: Type.Union([Timestamp, Type.Null()]),
    log_index: LogIndex,
  },
  { $id: 'Subject' },
);

export const SealStatus = Type.Object(
  {
    initialized: Type.Boolean(),
    sealed: Type.Boolean(),
    threshold: Type.Integer(),
    shares: Type.Integer(),
    progress: Type.Integer(),
    entered: Type.Array(Type.String()),
    configuration_changed: Type.Union([Type.Array(Type.String()), Type.Null()], {
      description:
        'The governed sections of the configuration (data_dir, jurisdictions, sites, orgs, collections, gatekeeper, seal, log, control) changed since the last unseal or init: the next unseal logs the new digests. null: none recorded yet, or the record cannot be read.',
    }),
  },
  { $id: 'SealStatus' },
);

export const CreateRecordBody = Type.Object(
  {
    id: Type.Optional(RecordId),
    data: Type.Object({}, { additionalProperties: true, description: "Field values; see the collection's schema under components." }),
  },
  { additionalProperties: false },
);

export const ReplaceRecordBody = Type.Object(
  { data: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: false },
);

export const RegisterSubjectBody = Type.Object(
  { id: SubjectId, country: Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2 residence country.' }) },
  { additionalProperties: false },
);

export const RehomeBody = Type.Object(
  { country: Type.String({ pattern: '^[A-Za-z]{2}$', description: 'The new residence country.' }) },
  { additionalProperties: false },
);

export const UnsealBody = Type.Object(
  {
    share: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    reset: Type.Optional(Type.Boolean({ description: 'Discard the shares entered so far.' })),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    collection: Type.Optional(CollectionName),
    limit: Type.Optional(Type.String({ maxLength: 8, description: 'Page size, 1 to 1000 (default 100).' })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

