package io.tokenbus.bus;

/** A command for a generation's owner, sent on {@link Addresses#control(String)}. */
public enum ControlCommand {
  /** Stop the generation, for everyone. */
  CANCEL,
  /** A node has viewers of the generation (sent periodically): it is not idle. */
  WATCHING
}
