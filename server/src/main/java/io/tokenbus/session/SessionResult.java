package io.tokenbus.session;

import java.io.Serializable;
import java.util.List;

/** What an op returned, and the events it appended (to publish). */
public record SessionResult<T>(T value, List<SessionEvent> events) implements Serializable {}
