package io.tokenbus.generation;

import org.slf4j.MDC;

/**
 * A generation's MDC fields ({@code generation}, {@code tenant}, {@code session}) for the log lines
 * written inside a try-with-resources block: the JSON log format writes them as fields of their
 * own. Set and removed on the calling thread around the lines, since an event loop's thread serves
 * every generation in turn.
 */
final class LogContext implements AutoCloseable {

  private final boolean tenant;
  private final boolean session;

  private LogContext(boolean tenant, boolean session) {
    this.tenant = tenant;
    this.session = session;
  }

  static LogContext of(GenerationInfo info) {
    MDC.put("generation", info.id());
    String tenant = info.request().creator().tenant();
    if (tenant != null) {
      MDC.put("tenant", tenant);
    }
    boolean inSession = info.request().session() != null;
    if (inSession) {
      MDC.put("session", info.request().session().session());
    }
    return new LogContext(tenant != null, inSession);
  }

  /** Removes what {@link #of} put, and only that. */
  @Override
  public void close() {
    MDC.remove("generation");
    if (tenant) {
      MDC.remove("tenant");
    }
    if (session) {
      MDC.remove("session");
    }
  }
}
