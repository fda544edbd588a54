package io.tokenbus.auth;

/**
 * What a credential may do: start generations, watch them, take part in chat sessions, anything.
 */
public enum Scope {
  GENERATE,
  WATCH,
  SESSIONS,
  ADMIN
}
