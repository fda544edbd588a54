package io.tokenbus.bus;

/** A command for a generation's owner, sent on {@link Addresses#control(String)}. */
public enum ControlCommand {
  CANCEL
}
