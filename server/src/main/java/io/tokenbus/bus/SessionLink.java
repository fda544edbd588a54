package io.tokenbus.bus;

import java.io.Serializable;

/**
 * Ties a generation to the chat session it answers: the session, the assistant message it fills,
 * and the generation's id, chosen before it starts so the message can name it at once.
 */
public record SessionLink(String session, String message, String generation)
    implements Serializable {}
