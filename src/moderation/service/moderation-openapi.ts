/** The moderation service's OpenAPI 3.1 document, served at /openapi.json. */

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const json = (description: string, ref: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const body = (ref: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  description:
    'Any unique string (1 to 255 printable characters). Sending the same request again with the ' +
    'same key gives back the same review and changes nothing; the same key with a different ' +
    'request is refused with 422.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};
const common = {
  '401': problem('No credentials, or a token or session that is not valid'),
};
const range = {
  type: 'object',
  required: ['startMs', 'endMs'],
  properties: {
    startMs: { type: 'integer', description: 'ms since the Unix epoch' },
    endMs: { type: 'integer', description: 'ms since the Unix epoch, after startMs' },
  },
};

export const MODERATION_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'tapedeck moderation service',
    version: '1',
    description:
      'Reviews of merged clips that a scorer flagged: escalation creates and widens them, ' +
      'reviewers decide them on the page at `/`. Every /v1 call needs `Authorization: Bearer ' +
      'TOKEN` (the token name is the actor in the audit log) or the session cookie from ' +
      '`POST /v1/login`. Errors are RFC 9457 problem documents; 400s list every problem in ' +
      '`problems`.',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      session: { type: 'apiKey', in: 'cookie', name: 'tapedeck_review_session' },
    },
    schemas: {
      Problem: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          problems: { type: 'array', items: { type: 'string' } },
        },
      },
      TimeRange: range,
      Finding: {
        allOf: [
          { $ref: '#/components/schemas/TimeRange' },
          {
            type: 'object',
            required: ['impairment', 'snippetKey', 'score'],
            properties: {
              impairment: { enum: ['silence', 'clipping', 'noise', 'black', 'frozen'] },
              snippetKey: { type: 'string' },
              score: { type: 'integer', minimum: 0, maximum: 100 },
            },
          },
        ],
      },
      ReviewDraft: {
        type: 'object',
        required: [
          'livestreamId',
          'track',
          'variant',
          'clipKey',
          'range',
          'flagged',
          'findings',
          'lowestScore',
        ],
        properties: {
          livestreamId: { type: 'string', minLength: 1, maxLength: 512 },
          track: { type: 'string', minLength: 1, maxLength: 512 },
          variant: { enum: ['mp4', 'mp3'] },
          clipKey: {
            type: 'string',
            minLength: 1,
            maxLength: 512,
            description: 'The merged clip in the object store',
          },
          range: { $ref: '#/components/schemas/TimeRange' },
          flagged: {
            type: 'array',
            minItems: 1,
            items: { $ref: '#/components/schemas/TimeRange' },
            description: 'The low-scored ranges inside range',
          },
          findings: { type: 'array', items: { $ref: '#/components/schemas/Finding' } },
          lowestScore: { type: 'integer', minimum: 0, maximum: 100 },
        },
      },
      Decision: {
        type: 'object',
        required: ['decision', 'note', 'reviewer', 'at'],
        properties: {
          decision: { enum: ['approve', 'violation'] },
          note: { type: 'string' },
          reviewer: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
        },
      },
      Review: {
        allOf: [
          { $ref: '#/components/schemas/ReviewDraft' },
          {
            type: 'object',
            required: ['id', 'status', 'createdAt', 'updatedAt', 'decision'],
            properties: {
              id: { type: 'string' },
              status: { enum: ['open', 'approved', 'violation'] },
              createdAt: { type: 'string', format: 'date-time' },
              updatedAt: { type: 'string', format: 'date-time' },
              decision: { oneOf: [{ $ref: '#/components/schemas/Decision' }, { type: 'null' }] },
            },
          },
        ],
      },
      DecisionRequest: {
        type: 'object',
        required: ['decision'],
        properties: {
          decision: { enum: ['approve', 'violation'] },
          note: { type: 'string', maxLength: 2000, default: '' },
        },
      },
      AuditEntry: {
        type: 'object',
        properties: {
          seq: { type: 'integer' },
          reviewId: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
          actor: { type: 'string' },
          action: { enum: ['created', 'extended', 'decided'] },
          detail: { type: 'object' },
        },
      },
      Login: {
        type: 'object',
        required: ['name', 'token'],
        properties: { name: { type: 'string' }, token: { type: 'string' } },
      },
      Principal: {
        type: 'object',
        properties: { name: { type: 'string' }, kind: { enum: ['reviewer', 'service'] } },
      },
      ReviewList: {
        type: 'object',
        properties: { reviews: { type: 'array', items: { $ref: '#/components/schemas/Review' } } },
      },
      AuditList: {
        type: 'object',
        properties: {
          entries: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } },
        },
      },
    },
  },
  security: [{ bearer: [] }, { session: [] }],
  paths: {
    '/v1/reviews': {
      post: {
        summary: 'Create a review (escalation)',
        parameters: [idempotencyKey],
        requestBody: body('ReviewDraft'),
        responses: {
          '201': json('Created', 'Review'),
          '200': json('The same request was made before with this key: that review', 'Review'),
          '400': problem('Bad JSON, fields or missing Idempotency-Key; every problem listed'),
          ...common,
          '413': problem('Body over 256 KiB'),
          '415': problem('Content-Type is not application/json'),
          '422': problem('The Idempotency-Key was used for a different request'),
        },
      },
      get: {
        summary: 'Reviews, oldest first',
        parameters: [
          {
            name: 'status',
            in: 'query',
            schema: { enum: ['open', 'approved', 'violation'] },
          },
          { name: 'livestreamId', in: 'query', schema: { type: 'string' } },
          { name: 'track', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': json('Reviews', 'ReviewList'),
          '400': problem('Unknown status'),
          ...common,
        },
      },
    },
    '/v1/reviews/{id}': {
      get: {
        summary: 'One review',
        parameters: [idParam],
        responses: {
          '200': json('The review', 'Review'),
          ...common,
          '404': problem('No such review'),
        },
      },
    },
    '/v1/reviews/{id}/extend': {
      post: {
        summary: 'Widen an open review with a later, overlapping escalation of the same track',
        parameters: [idParam, idempotencyKey],
        requestBody: body('ReviewDraft'),
        responses: {
          '200': json('The widened review', 'Review'),
          '400': problem('Bad JSON or fields; every problem listed'),
          ...common,
          '404': problem('No such review'),
          '409': problem('The review was decided already'),
          '422': problem(
            'The draft is for another track, or the Idempotency-Key was used for a different request',
          ),
        },
      },
    },
    '/v1/reviews/{id}/decision': {
      post: {
        summary: 'Decide a review; the reviewer is the caller',
        parameters: [idParam],
        requestBody: body('DecisionRequest'),
        responses: {
          '200': json('The decided review', 'Review'),
          '400': problem('Bad JSON or fields; every problem listed'),
          ...common,
          '404': problem('No such review'),
          '409': problem('Decided already; the first decision stands'),
        },
      },
    },
    '/v1/reviews/{id}/clip': {
      get: {
        summary: 'The merged clip, from the object store; supports Range requests',
        parameters: [
          idParam,
          { name: 'Range', in: 'header', schema: { type: 'string', example: 'bytes=0-' } },
        ],
        responses: {
          '200': {
            description: 'The whole clip',
            content: { 'video/mp4': {}, 'audio/mpeg': {} },
          },
          '206': {
            description: 'The requested bytes',
            content: { 'video/mp4': {}, 'audio/mpeg': {} },
          },
          ...common,
          '404': problem('No such review, or its clip is not in the store'),
          '416': problem('The range is outside the clip'),
          '503': problem('The object store did not answer; try again'),
        },
      },
    },
    '/v1/audit': {
      get: {
        summary: 'The audit log, in the order things happened',
        parameters: [{ name: 'reviewId', in: 'query', schema: { type: 'string' } }],
        responses: { '200': json('Entries', 'AuditList'), ...common },
      },
    },
    '/v1/login': {
      post: {
        summary: "A reviewer's page session: sets an HttpOnly, SameSite=Strict cookie",
        security: [],
        requestBody: body('Login'),
        responses: {
          '200': json('Logged in', 'Principal'),
          '400': problem('Bad JSON or fields'),
          '401': problem('Wrong name or token'),
        },
      },
    },
    '/v1/logout': {
      post: {
        summary: 'Ends the page session',
        security: [],
        responses: { '204': { description: 'Logged out' } },
      },
    },
    '/v1/me': {
      get: {
        summary: 'Who the credentials belong to',
        responses: { '200': json('The caller', 'Principal'), ...common },
      },
    },
    '/': { get: { summary: 'The reviewer page', security: [] } },
    '/app.js': { get: { summary: "The reviewer page's script", security: [] } },
    '/app.css': { get: { summary: "The reviewer page's style", security: [] } },
    '/healthz': { get: { summary: 'Liveness', security: [] } },
    '/openapi.json': { get: { summary: 'This document', security: [] } },
  },
} as const;
