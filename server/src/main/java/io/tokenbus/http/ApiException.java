package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.tokenbus.session.Sessions;

/**
 * A failure to render to the client, carried to the router's failure handler. No stack trace: it is
 * an answer, not a bug.
 */
public final class ApiException extends RuntimeException implements Sessions.FailureCarrier {

  private final Failure failure;
  private final String param;

  public ApiException(Failure failure, String param) {
    super(failure.message(), null, false, false);
    this.failure = failure;
    this.param = param;
  }

  public ApiException(Failure failure) {
    this(failure, null);
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
}
