// A job's entity tag, both ways: every Job answer sends its version as `ETag: "<version>"`, and PATCH, pause and
// resume take `If-Match` to change only that version (RFC 9110 §8.8.3, §13.1.1).
import {
  applyDecorators,
  BadRequestException,
  CallHandler,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { ApiHeader, ApiPreconditionFailedResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { JobJson } from '@app/contract';
import { Observable, tap } from 'rxjs';

/** What an If-Match header asks for; none (or `*`, any current version) is `undefined`. */
export interface IfMatch {
  /** The versions of its strong tags. A weak tag (`W/"3"`) never matches: If-Match compares strongly. */
  readonly versions: readonly number[];
  /** The header as sent, for the 412's message. */
  readonly header: string;
}

/** Strong: the version changes with every stored change of the job's definition. */
export const etagOf = (version: number): string => `"${version}"`;

/** `"3"`, `W/"3"`, or a bare `3` (some clients drop the quotes); our tags are decimal versions, nothing else. */
const TAG = /^(?:(W\/)?"(\d{1,15})"|(\d{1,15}))$/;

/**
 * `*` (any version: the same as no header, the change merges onto whatever is stored) or a comma-separated list of
 * entity tags; empty list elements are ignored (RFC 9110 §5.6.1). Anything else is a 400 naming the header.
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const elements = header
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (elements.length === 0) throw malformed(header);
  const versions: number[] = [];
  for (const element of elements) {
    const m = TAG.exec(element);
    if (!m) throw malformed(header);
    if (!m[1]) versions.push(Number(m[2] ?? m[3]));
  }
  return { versions, header };
}

const malformed = (header: string) =>
  new BadRequestException(
    `If-Match must be * or a list of entity tags such as "3" (the job's version), got ${JSON.stringify(header)}`,
  );

/** The request's If-Match, parsed (a 400 when malformed). */
export const IfMatchHeader = createParamDecorator((_: unknown, ctx: ExecutionContext): IfMatch | undefined => {
  const value = ctx.switchToHttp().getRequest<Request>().headers['if-match'];
  return parseIfMatch(Array.isArray(value) ? value.join(', ') : value);
});

/** Sets `ETag` from the Job a handler answers. */
@Injectable()
class JobETagInterceptor implements NestInterceptor<JobJson, JobJson> {
  intercept(ctx: ExecutionContext, next: CallHandler<JobJson>): Observable<JobJson> {
    const res = ctx.switchToHttp().getResponse<Response>();
    return next.handle().pipe(tap((job) => res.setHeader('ETag', etagOf(job.version))));
  }
}

/** A handler answering one Job: it sends the job's ETag. */
export const SendsJobETag = () => UseInterceptors(JobETagInterceptor);

/** Swagger: the `ETag` header of a Job answer. */
export const ETAG_RESPONSE_HEADER = {
  ETag: { description: 'the job\'s version as a strong entity tag, `"<version>"`', schema: { type: 'string' } },
};

/** Swagger for a change that takes If-Match. */
export const TakesIfMatch = () =>
  applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description:
        'change only this version of the job: its ETag (`"3"`; a bare `3` and a list are accepted, `*` is any ' +
        'version, a weak tag never matches). Without it, the change is merged onto the current version.',
    }),
    ApiPreconditionFailedResponse({
      description: 'If-Match names a version that is no longer current; `message` names the current one',
    }),
  );
