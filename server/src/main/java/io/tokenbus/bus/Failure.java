package io.tokenbus.bus;

import java.io.Serializable;

/**
 * Why something failed, in the terms an HTTP client needs: the status to answer with, and OpenAI's
 * error {@code type} and {@code code}. Travels in terminal {@code error} events and in rejected
 * generation requests, and is rendered once, at the HTTP edge.
 */
public record Failure(int status, String type, String code, String message)
    implements Serializable {

  public static Failure invalidRequest(String code, String message) {
    return new Failure(400, "invalid_request_error", code, message);
  }

  public static Failure notFound(String code, String message) {
    return new Failure(404, "invalid_request_error", code, message);
  }

  public static Failure upstream(String message) {
    return new Failure(502, "upstream_error", "upstream_error", message);
  }

  public static Failure upstreamTimeout(String message) {
    return new Failure(504, "upstream_error", "upstream_timeout", message);
  }

  public static Failure internal(String message) {
    return new Failure(500, "api_error", "internal_error", message);
  }
}
