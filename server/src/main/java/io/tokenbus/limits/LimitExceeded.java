package io.tokenbus.limits;

import io.tokenbus.bus.Failure;
import io.tokenbus.session.Sessions;

/**
 * A request refused by its tenant's limits: the answer to give (429, or 400 for a request that can
 * never pass), the request field at fault if any, and when to retry.
 */
public final class LimitExceeded extends RuntimeException implements Sessions.FailureCarrier {

  private final Failure failure;
  private final String param;
  private final long retryAfterSeconds;
  private final RateHeaders headers;

  LimitExceeded(Failure failure, String param, long retryAfterSeconds, RateHeaders headers) {
    super(failure.message(), null, false, false);
    this.failure = failure;
    this.param = param;
    this.retryAfterSeconds = retryAfterSeconds;
    this.headers = headers;
  }

  @Override
  public Failure failure() {
    return failure;
  }

  public String param() {
    return param;
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** The rate-limit headers the refusal still carries, or null. */
  public RateHeaders headers() {
    return headers;
  }
}
