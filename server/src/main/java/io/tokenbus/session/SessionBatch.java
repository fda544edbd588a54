package io.tokenbus.session;

import io.tokenbus.bus.StreamBatch;
import java.io.Serializable;
import java.util.List;

/** Events of one session, as published on its address after the store took them. */
public record SessionBatch(String session, List<SessionEvent> events)
    implements StreamBatch<SessionEvent>, Serializable {}
