package io.tokenbus.generation;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit trail: one line when a generation starts (or is taken over by another node) and one
 * when it ends, on the logger {@code io.tokenbus.audit} so that operators can route it on its own.
 * A line names the tenant and the credential by its log name ({@code acme#2}, {@code jwt:alice},
 * {@code watch-token}), never a secret; values are quoted and stripped of control characters, so a
 * client-chosen model name cannot forge a line.
 */
final class Audit {

  private static final Logger LOG = LoggerFactory.getLogger("io.tokenbus.audit");

  private Audit() {}

  static void started(GenerationInfo info, boolean resumed) {
    try (LogContext context = LogContext.of(info)) {
      LOG.info("generation {} {}", resumed ? "resumed" : "started", fields(info));
    }
  }

  static void ended(GenerationInfo info, GenerationEvent terminal) {
    String status = GenerationStatus.of(terminal).wireName();
    String code = terminal.failure() == null ? null : terminal.failure().code();
    try (LogContext context = LogContext.of(info)) {
      LOG.info(
          "generation ended {} status={}{}",
          fields(info),
          status,
          code == null ? "" : " code=" + quoted(code));
    }
  }

  private static String fields(GenerationInfo info) {
    Creator creator = info.request().creator();
    StringBuilder line =
        new StringBuilder()
            .append("id=")
            .append(quoted(info.id()))
            .append(" tenant=")
            .append(quoted(creator.tenant()))
            .append(" credential=")
            .append(quoted(creator.credential()))
            .append(" model=")
            .append(quoted(info.model()));
    if (info.request().session() != null) {
      line.append(" session=").append(quoted(info.request().session().session()));
    }
    return line.toString();
  }

  /** {@code "value"}, with quotes and backslashes escaped and control characters dropped. */
  static String quoted(String value) {
    StringBuilder out = new StringBuilder(value.length() + 2).append('"');
    int max = Math.min(value.length(), 200);
    for (int i = 0; i < max; i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (!Character.isISOControl(c)) {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }
}
