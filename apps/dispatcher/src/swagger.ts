import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

export function setupSwagger(app: INestApplication): void {
  const doc = new DocumentBuilder()
    .setTitle('gocron-ts')
    .setDescription(
      'Distributed cron scheduler. Errors use `{statusCode, message, error}`; a 400 names every bad field; unknown ' +
        'body fields are rejected. Times are ISO 8601 UTC.',
    )
    .setVersion('0.1.0')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'an API token (gct_…); data/admin-token at first start',
    })
    .addCookieAuth('gocron_session')
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc), {
    jsonDocumentUrl: 'api/docs-json',
    // JSON only: the contract names /api/docs-json, and every address served here is one the docs guard covers.
    raw: ['json'],
  });
}
