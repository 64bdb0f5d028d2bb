// Original file: proto/executor.proto

export interface HttpTask {
  method?: string;
  url?: string;
  headers?: { [key: string]: string };
  body?: string;
  expectStatus?: number[];
}

export interface HttpTask__Output {
  method: string;
  url: string;
  headers: { [key: string]: string };
  body: string;
  expectStatus: number[];
}
