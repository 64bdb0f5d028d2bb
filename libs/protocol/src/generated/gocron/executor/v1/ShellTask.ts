// Original file: proto/executor.proto

export interface ShellTask {
  command?: string;
  env?: { [key: string]: string };
}

export interface ShellTask__Output {
  command: string;
  env: { [key: string]: string };
}
