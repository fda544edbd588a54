package io.tokenbus.session;

import java.io.Serializable;
import java.util.List;

/**
 * One atomic step on a session's state (see {@link SessionOps}): it may change the state, appends
 * the events it causes to {@code out}, and returns its result.
 */
public interface SessionOp<T> extends Serializable {

  T apply(SessionState state, List<SessionEvent> out);

  /** False for a read: the store then neither writes the state back nor extends its life. */
  default boolean mutates() {
    return true;
  }
}
