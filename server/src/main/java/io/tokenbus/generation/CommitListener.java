package io.tokenbus.generation;

import io.tokenbus.bus.GenerationEvent;
import java.util.List;

/**
 * Hears what a generation's owner commits, for what is built on generations (chat sessions). Called
 * on the owner's event loop, in seq order, only for generations whose request names a session; it
 * must not block.
 */
public interface CommitListener {

  CommitListener NONE =
      new CommitListener() {
        @Override
        public void committed(GenerationInfo info, List<GenerationEvent> events) {}

        @Override
        public void resumed(GenerationInfo info) {}
      };

  /** A batch was appended to the log and published. */
  void committed(GenerationInfo info, List<GenerationEvent> events);

  /**
   * This node has just taken the generation over: what the former owner committed may not have been
   * heard.
   */
  void resumed(GenerationInfo info);
}
