/** The control API's OpenAPI 3.1 document, served at /openapi.json. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'tapedeck control API',
    version: '1',
    description:
      'Create livestreams (each host gets a WHIP URL and token), pass on what hosts do, stop ' +
      'recording, and list what was recorded. Every call needs `Authorization: Bearer API_KEY`.',
  },
  components: {
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Problem: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
        },
      },
      Id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      CreateLivestream: {
        type: 'object',
        additionalProperties: false,
        properties: {
          livestreamId: { $ref: '#/components/schemas/Id' },
          hosts: { type: 'array', items: { $ref: '#/components/schemas/Id' }, maxItems: 16 },
          hostCount: { type: 'integer', minimum: 1, maximum: 16, default: 4 },
        },
      },
      Livestream: {
        type: 'object',
        properties: {
          livestreamId: { $ref: '#/components/schemas/Id' },
          workflowId: { type: 'string' },
          hosts: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                hostId: { $ref: '#/components/schemas/Id' },
                whipUrl: { type: 'string', format: 'uri' },
                token: { type: 'string' },
              },
            },
          },
        },
      },
      HostControl: {
        type: 'object',
        required: ['event'],
        properties: {
          event: { enum: ['camera-off', 'camera-on', 'microphone-off', 'microphone-on'] },
        },
      },
    },
  },
  security: [{ apiKey: [] }],
  paths: {
    '/v1/livestreams': {
      post: {
        summary: 'Create a livestream and start recording it',
        requestBody: {
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/CreateLivestream' } },
          },
        },
        responses: {
          '201': {
            description: 'Created; each host publishes to its whipUrl with its token',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Livestream' } },
            },
          },
          '400': { description: 'Bad JSON or fields' },
          '401': { description: 'Missing or wrong API key' },
          '409': { description: 'A livestream with this id exists' },
          '503': {
            description:
              'The node records as many livestreams as it is set to (--max-livestreams), or ' +
              'Temporal did not answer; Retry-After says when to try again',
          },
        },
      },
    },
    '/v1/livestreams/{livestreamId}': {
      get: {
        summary: 'State of a livestream: hosts, recording workflows, stopping',
        responses: {
          '200': { description: 'State' },
          '404': { description: 'Unknown livestream' },
        },
      },
    },
    '/v1/livestreams/{livestreamId}/stop': {
      post: {
        summary: 'End the publishes and stop every recording with a complete last snippet',
        responses: {
          '202': { description: 'Stopping' },
          '404': { description: 'Unknown livestream' },
        },
      },
    },
    '/v1/livestreams/{livestreamId}/hosts/{hostId}/events': {
      post: {
        summary: 'What the platform says a host did (camera or microphone off and on)',
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/HostControl' } } },
        },
        responses: {
          '202': { description: 'Accepted; the events it caused' },
          '400': { description: 'Bad JSON or event' },
          '404': { description: 'Unknown livestream or host' },
        },
      },
    },
    '/v1/livestreams/{livestreamId}/recordings': {
      get: {
        summary: 'The recording workflows of a livestream',
        responses: {
          '200': { description: 'Workflows' },
          '404': { description: 'Unknown livestream' },
        },
      },
    },
    '/v1/livestreams/{livestreamId}/snippets': {
      get: {
        summary: 'Snippet keys in the store, optionally of one track',
        parameters: [{ name: 'track', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'Keys' }, '404': { description: 'Unknown livestream' } },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [] } },
    '/openapi.json': { get: { summary: 'This document', security: [] } },
  },
} as const;
