import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AdminIdentity, AdminRecord, authenticateAdmin, bearerToken, scopeAllows } from '@dd/site-auth';
import { ApiError } from './errors';
import { HEADER } from './headers';
import type { Caller } from './directory.service';

/** Where the guard finds the admins of the config in force (reloads included). */
export interface AdminRegistry {
  admins(): readonly AdminRecord[];
}
export const ADMIN_REGISTRY = Symbol('AdminRegistry');

const PUBLIC = 'dd:public';
/** Operations endpoints and site-to-site calls: no admin token (site calls are signed instead, SPEC §9). */
export const Public = () => SetMetadata(PUBLIC, true);

export type AdminRequest = FastifyRequest & { admin?: AdminIdentity };

/** SPEC §9: every admin API call carries a bearer token checked against `tokenSha256` in the config. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ADMIN_REGISTRY) private readonly registry: AdminRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()]))
      return true;
    const request = context.switchToHttp().getRequest<AdminRequest>();
    const token = bearerToken(request.headers.authorization);
    const admin = authenticateAdmin(this.registry.admins(), token);
    if (!admin)
      throw new ApiError('unauthorized', token ? 'unknown bearer token' : 'a bearer token is required');
    request.admin = admin;
    return true;
  }
}

export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): Caller => {
  const request = context.switchToHttp().getRequest<AdminRequest>();
  if (!request.admin) throw new ApiError('unauthorized', 'a bearer token is required');
  return {
    admin: request.admin,
    waitForMdc: String(request.headers[HEADER.waitFor] ?? '').toLowerCase() === 'mdc',
  };
});

/** SPEC §9 scopes: `*` or a list of domains, each with its descendants. */
export function assertInScope(caller: Caller, domainName: string): void {
  if (!scopeAllows(caller.admin.scope, domainName)) {
    throw new ApiError('forbidden', `admin ${caller.admin.name} has no access to domain ${domainName}`);
  }
}
