import { ArgumentMetadata, Injectable, Type, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { ApiError } from './errors';

/** The properties a DTO class declares (each has a class-validator decorator), by class. */
const declared = new WeakMap<Type<unknown>, Set<string>>();

function propertiesOf(dto: Type<unknown>): Set<string> {
  let names = declared.get(dto);
  if (!names) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
    names = new Set(rules.map((rule) => rule.propertyName));
    declared.set(dto, names);
  }
  return names;
}

/**
 * SPEC §5 request bodies: validated against their DTO (class-validator; an unknown field is a 400)
 * and then handed on exactly as they came — settings and attributes are stored as given (SPEC §3).
 * Nest's ValidationPipe returns a class-transformer copy, which drops keys such as `constructor`,
 * `toString` or `valueOf` inside settings, and it strips `constructor` and `prototype` from the
 * value in place; here it only sees a copy. (`__proto__` never gets this far: the parser refuses it.)
 */
@Injectable()
export class BodyValidationPipe extends ValidationPipe {
  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: false });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const dto = metadata.metatype;
    // Query DTOs only document the parameters; their values are read (and refused) where they are used.
    if (!dto || metadata.type !== 'body' || !this.toValidate(metadata)) return value;
    // Fastify parses a body only when it has a content type; a JSON one cannot be empty.
    if (metadata.type === 'body' && value === undefined) {
      throw new ApiError(
        'unsupported_media_type',
        'this call takes a JSON body (Content-Type: application/json)',
      );
    }
    // class-transformer skips a field named like an Object.prototype member, so whitelisting alone would miss it.
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const known = propertiesOf(dto);
      const unknown = Object.keys(value).find((key) => !known.has(key));
      if (unknown !== undefined)
        throw new ApiError('validation_failed', `property ${unknown} should not exist`);
    }
    // Nest's pipe strips keys from what it is given (class-transformer cannot take a `constructor`
    // key): it validates a copy, and the value itself goes on untouched.
    await super.transform(structuredClone(value), metadata);
    return value;
  }
}
