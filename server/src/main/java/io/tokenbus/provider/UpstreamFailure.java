package io.tokenbus.provider;

import io.tokenbus.bus.Failure;

/**
 * Why one upstream attempt failed: the {@link Failure} a client would see, whether trying again can
 * help, how long the upstream asked us to wait ({@code Retry-After}), or -1, and whether it is the
 * upstream's own failure, which counts for the model's circuit breaker. A client can choose its
 * request, so what its request makes the upstream refuse (400, 404, 413, 422, also 429: a shared
 * limit a client's own traffic can reach) must never open the circuit for others.
 */
public record UpstreamFailure(
    Failure failure, boolean retryable, long retryAfterMs, boolean upstreamsFault) {

  /**
   * A connection that could not be opened, or broke: worth another attempt, the upstream's fault.
   */
  public static UpstreamFailure broken(Failure failure) {
    return new UpstreamFailure(failure, true, -1, true);
  }

  /** A failure no retry can fix (a rejected request, a bad key); not the upstream's health. */
  public static UpstreamFailure fatal(Failure failure) {
    return new UpstreamFailure(failure, false, -1, false);
  }

  /**
   * An HTTP error status from the upstream, with its message (already redacted). 408, 409, 429 and
   * 5xx are worth retrying; every other 4xx is not. The client sees the upstream's status where it
   * describes the client's request (400, 404, 413, 422, 429), and 502 where it describes tokenbus's
   * own set-up (401, 403: tokenbus's key, not the client's).
   */
  public static UpstreamFailure status(int status, String message, long retryAfterMs) {
    String text = "The upstream answered " + status + ": " + message;
    Failure failure =
        switch (status) {
          case 400, 404, 413, 422 ->
              new Failure(status, "invalid_request_error", "upstream_rejected_request", text);
          case 401, 403 -> new Failure(502, "upstream_error", "upstream_auth_failed", text);
          case 408 -> Failure.upstreamTimeout(text);
          case 429 -> new Failure(429, "rate_limit_error", "upstream_rate_limited", text);
          default ->
              status >= 500
                  ? Failure.upstream(text)
                  : new Failure(502, "upstream_error", "upstream_rejected_request", text);
        };
    boolean retryable = status == 408 || status == 409 || status == 429 || status >= 500;
    return new UpstreamFailure(failure, retryable, retryAfterMs, retryable && status != 429);
  }
}
