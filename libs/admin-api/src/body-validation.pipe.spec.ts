import type { ArgumentMetadata } from '@nestjs/common';
import { BodyValidationPipe } from './body-validation.pipe';
import { CreateDomainDto, CreateEntityDto, PatchDomainDto } from './dto';
import { ApiError } from './errors';

const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

async function refusal(
  value: unknown,
  metadata: ArgumentMetadata,
): Promise<{ status: number; code: string; message: string }> {
  const pipe = new BodyValidationPipe();
  const error = await pipe.transform(value, metadata).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (error instanceof ApiError) return { status: error.status, code: error.code, message: error.message };
  const http = error as { getStatus?: () => number; message?: string } | undefined;
  if (http?.getStatus) return { status: http.getStatus(), code: 'http', message: String(http.message) };
  throw new Error(`expected a refusal, got ${String(error)}`);
}

describe('BodyValidationPipe: a body is validated against its DTO and handed on untouched (SPEC §3, §5)', () => {
  const pipe = new BodyValidationPipe();

  it('hands on the very object it was given, every key of settings kept', async () => {
    const value = JSON.parse(
      '{"settings":{"constructor":{"x":"yes"},"prototype":{"p":1},"toString":1,"hasOwnProperty":2,"valueOf":3,"n":{"constructor":{"prototype":{}}}}}',
    );
    const copy = structuredClone(value);
    await expect(pipe.transform(value, body(PatchDomainDto))).resolves.toBe(value);
    expect(value).toEqual(copy);
  });

  it('hands on entity attributes with constructor keys untouched', async () => {
    const value = JSON.parse('{"kind":"user","name":"c","attributes":{"constructor":{"a":1}}}');
    await expect(pipe.transform(value, body(CreateEntityDto))).resolves.toEqual(
      JSON.parse('{"kind":"user","name":"c","attributes":{"constructor":{"a":1}}}'),
    );
  });

  it.each(['colour', 'toString', 'constructor', 'valueOf', 'hasOwnProperty'])(
    'refuses an unknown top-level field %s with 400 validation_failed',
    async (key) => {
      expect(await refusal({ name: 'acme', [key]: 1 }, body(CreateDomainDto))).toEqual({
        status: 400,
        code: 'validation_failed',
        message: `property ${key} should not exist`,
      });
    },
  );

  it('refuses what the DTO refuses (400)', async () => {
    expect((await refusal({ name: 7 }, body(CreateDomainDto))).status).toBe(400);
    expect((await refusal({ settings: null }, body(PatchDomainDto))).status).toBe(400);
    expect((await refusal([1], body(PatchDomainDto))).status).toBe(400);
  });

  it('answers a call that takes a body but got none with 415 unsupported_media_type', async () => {
    expect(await refusal(undefined, body(CreateDomainDto))).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
  });

  it('leaves untyped bodies and other parameters alone', async () => {
    const value = { anything: { constructor: 1 } };
    await expect(pipe.transform(value, { type: 'body', metatype: Object })).resolves.toBe(value);
    await expect(pipe.transform('acme', { type: 'param', metatype: String, data: 'name' })).resolves.toBe(
      'acme',
    );
    await expect(
      pipe.transform(undefined, { type: 'query', metatype: String, data: 'kind' }),
    ).resolves.toBeUndefined();
  });
});
