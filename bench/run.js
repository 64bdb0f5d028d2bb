#!/usr/bin/env node
// `node bench/run.js …` as before: the harness is bench/run.ts (see its header for the arguments), loaded here
// through tsx, so the commands quoted in README.md, bench/NOTES.md and the report keep working.
'use strict';
require('tsx/cjs/api').register();
require('./run.ts');
