package io.tokenbus.session;

import io.tokenbus.session.SessionState.View;
import java.util.List;

/** Where a session viewer writes: an SSE response or a WebSocket, each in its own wire form. */
public interface SessionOutput {

  void state(View view);

  void events(List<EncodedSessionEvent> events);

  boolean writeQueueFull();

  void onDrain(Runnable action);

  /** The session is gone (deleted or expired) or could not be read. */
  void fail(String reason);
}
