// The headers of a conversation's move between units (move-out.ts sends, move-in.ts reads):
// what the old home's history records carry besides the message, and the hand-over's last word.

/**
 * Marks a record the new home stores as it comes: `message` (one), `messages` (packed in its
 * body), `answers` (private messages' dedupe answers, packed), `end` (on im.ingest), `read`
 * (im.actions), `begin` (im.actions, after the read cursors: the move is under way, what
 * follows on im.actions waits for it). And `deliver`: a deferred LOW message drained at the old home after the move,
 * which the new home delivers (held like any message until the move is complete).
 */
export const IMPORT_HEADER = 'imflow-import'
/** An imported message's fixed fields, which a SendMessage does not carry. */
export const IMPORT_MSG_ID_HEADER = 'imflow-import-msg-id'
export const IMPORT_CREATED_AT_HEADER = 'imflow-import-created-at'
/** On a message: its seq (0 unless a large group's); on the end: the conversation's last seq. */
export const IMPORT_SEQ_HEADER = 'imflow-import-seq'
/** On the end: how many messages were imported. */
export const IMPORT_COUNT_HEADER = 'imflow-import-count'

/**
 * Set by the unit that hands a conversation over, on the last of its hand-over events: the unit
 * the history comes from, or empty when none will come (the old home was no unit it knew).
 */
export const HANDOVER_HEADER = 'imflow-handover'

/**
 * On every hand-over event: the old home's state of the conversation (its new home, members,
 * mute), which its members were told of there. The new home applies it and tells nobody; the
 * first one replaces the members it kept while it only routed the conversation (move-in.ts).
 */
export const HANDOVER_PART_HEADER = 'imflow-handover-part'

/**
 * On a move (`UnitChanged`) a unit that only routes the conversation passes to the home it
 * knows (move-relay.ts): how many units have passed it on so far. A unit it reaches that is no
 * longer the home passes it on to the home it knows in turn, so a move made through a unit
 * that has not heard of an earlier one is applied by the real home, after that one.
 */
export const MOVE_REQUEST_HEADER = 'imflow-move-request'

/**
 * On the barrier a conversation's new home sends through its old home once it has the
 * hand-over and the history (move-in.ts): the old home passes it back, behind every change the
 * new home forwarded there before and the old home passes on too. The move completes when it
 * is back, so a change made at the new home afterwards cannot overtake one of those.
 */
export const MOVE_BARRIER_HEADER = 'imflow-move-barrier'
