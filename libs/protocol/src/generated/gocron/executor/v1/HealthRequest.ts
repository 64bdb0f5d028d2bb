// Original file: proto/executor.proto

export interface HealthRequest {}

export interface HealthRequest__Output {}
