package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.tokenbus.limits.LimitExceeded;
import io.tokenbus.session.Sessions;

/**
 * A failure to render to the client, carried to the router's failure handler. No stack trace: it is
 * an answer, not a bug.
 */
public final class ApiException extends RuntimeException implements Sessions.FailureCarrier {

  private final Failure failure;
  private final String param;
  private final long retryAfterSeconds;

  /**
   * @param retryAfterSeconds what {@code Retry-After} says on a 429 or 503 (0: one second)
   */
  public ApiException(Failure failure, String param, long retryAfterSeconds) {
    super(failure.message(), null, false, false);
    this.failure = failure;
    this.param = param;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public ApiException(Failure failure, String param) {
    this(failure, param, 0);
  }

  public ApiException(Failure failure) {
    this(failure, null);
  }

  /** A tenant's limit, as an answer. */
  public static ApiException of(LimitExceeded limit) {
    return new ApiException(limit.failure(), limit.param(), limit.retryAfterSeconds());
  }

  public static ApiException badRequest(String code, String message, String param) {
    return new ApiException(Failure.invalidRequest(code, message), param);
  }

  public static ApiException notFound(String code, String message) {
    return new ApiException(Failure.notFound(code, message));
  }

  @Override
  public Failure failure() {
    return failure;
  }

  public String param() {
    return param;
  }

  /** Seconds a client should wait before retrying a 429 or 503, at least 1. */
  public long retryAfterSeconds() {
    return Math.max(1, retryAfterSeconds);
  }
}
