/**
 * The gRPC status code of a Temporal client error: the SDK's ServiceError wraps the gRPC error once its own retries
 * ran out; either may reach the caller. Node-only (the client package), never imported by workflow code.
 */
import { isGrpcServiceError, ServiceError } from '@temporalio/client';

/** The gRPC code of `error` (bare, or inside a ServiceError), or undefined when it is not a gRPC error. */
export function grpcStatusOf(error: unknown): number | undefined {
  const grpc = error instanceof ServiceError ? error.cause : error;
  return isGrpcServiceError(grpc) ? grpc.code : undefined;
}
