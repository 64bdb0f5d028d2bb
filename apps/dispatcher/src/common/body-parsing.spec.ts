import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { CreateJobDto } from '../jobs/dto/create-job.dto';
import { ApiValidationPipe } from './api-validation.pipe';
import { installBodyParsing, JSON_MAX_DEPTH } from './body-parsing';

@Controller('echo')
class EchoController {
  @Post('job')
  @HttpCode(200)
  job(@Body() dto: CreateJobDto): { ok: true; name: string } {
    return { ok: true, name: dto.name };
  }

  @Post('raw')
  @HttpCode(200)
  raw(@Body() body: unknown): { ok: true; type: string } {
    return { ok: true, type: typeof body };
  }
}

/** `{"a":{"a":…leaf…}}` with `levels` objects, the outermost included. */
function nestedObjects(levels: number, leaf = '1'): string {
  return '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);
}

const SHELL = { name: 'n', cron: '* * * * *', type: 'shell', command: 'true' };

// The dispatcher's own pipeline (body parser, then the validation pipe) on a loopback port.
describe('body parsing: nesting depth', () => {
  let app: NestExpressApplication;
  let base: string;

  beforeAll(async () => {
    const module = await Test.createTestingModule({ controllers: [EchoController] }).compile();
    app = module.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
    installBodyParsing(app);
    app.useGlobalPipes(new ApiValidationPipe());
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });

  afterAll(() => app.close());

  async function post(path: string, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const tooDeep = {
    statusCode: 400,
    message: `body: JSON nested deeper than ${JSON_MAX_DEPTH} levels`,
    error: 'Bad Request',
  };

  it('answers a body nested thousands of levels deep with a 400 naming the bound, never a 500', async () => {
    const deepEnv = `{"name":"n","cron":"* * * * *","type":"shell","command":"true","env":${nestedObjects(5000)}}`;
    expect(await post('/echo/job', deepEnv)).toEqual({ status: 400, body: tooDeep });
    expect(await post('/echo/job', '['.repeat(5000) + ']'.repeat(5000))).toEqual({ status: 400, body: tooDeep });
    expect(await post('/echo/raw', nestedObjects(5000))).toEqual({ status: 400, body: tooDeep });
    // The deepest a 1 MiB body can be.
    const half = 512 * 1024 - 1;
    expect(await post('/echo/raw', '['.repeat(half) + ']'.repeat(half))).toEqual({ status: 400, body: tooDeep });
  });

  it(`takes ${JSON_MAX_DEPTH} levels and refuses ${JSON_MAX_DEPTH + 1}`, async () => {
    expect(await post('/echo/raw', nestedObjects(JSON_MAX_DEPTH))).toEqual({
      status: 200,
      body: { ok: true, type: 'object' },
    });
    expect(await post('/echo/raw', nestedObjects(JSON_MAX_DEPTH + 1))).toEqual({ status: 400, body: tooDeep });
    // Within the bound a deep value reaches validation, which names the field.
    const res = await post(
      '/echo/job',
      JSON.stringify({ ...SHELL, env: JSON.parse(nestedObjects(JSON_MAX_DEPTH - 1)) }),
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.message)).toMatch(/env/);
  });

  it('counts structure only: brackets inside strings are text', async () => {
    const command = '['.repeat(5000) + '{'.repeat(5000);
    expect(await post('/echo/job', JSON.stringify({ ...SHELL, command }))).toEqual({
      status: 200,
      body: { ok: true, name: 'n' },
    });
  });

  it('still answers invalid JSON and valid bodies as before', async () => {
    const bad = await post('/echo/raw', '{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^body: invalid JSON/);
    expect(await post('/echo/job', JSON.stringify(SHELL))).toEqual({ status: 200, body: { ok: true, name: 'n' } });
  });
});
