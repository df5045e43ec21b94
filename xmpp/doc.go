// Package xmpp is the XMPP client session of the gateway: it connects, keeps
// the stream alive, reconnects, and turns stanzas into typed events and typed
// requests into stanzas. It negotiates the stream itself and knows nothing
// of IRC.
//
// # Connection
//
// New validates a Config; Start runs a supervisor that connects (StartTLS by
// default, direct TLS, or plain TCP to a loopback server only), logs in with
// SASL (SCRAM-SHA-256, SCRAM-SHA-1, their -PLUS variants with channel
// binding; PLAIN only over TLS or to loopback), binds a resource, requests
// the roster (the first stanza), enables stream management (XEP-0198) and
// carbons (XEP-0280) and sends the initial presence. When the stream breaks
// it emits Disconnected and reconnects with exponential backoff and jitter
// until Close, resuming the stream when the server allows it (Connected
// says whether it did).
//
// With stream management, stanzas the server did not acknowledge are sent
// again on the next stream (on a fresh login: the messages only, with their
// ids). Without it, messages whose receipt the server never confirmed are
// reported in an Unconfirmed event before the Disconnected. A stream that stays silent for Config.DeadTimeout is considered
// dead; keepalive pings (XEP-0199) are sent after PingInterval of silence.
// One goroutine reads the stream; one writes it while there is something
// to write, so that an idle session has no writer.
//
// Events wait in a queue, in order, until the receiver takes them
// (EventsReady and NextEvent, or Events); while 256 wait, the session
// stops reading the stream. Config.OnEvent sees each as it is queued.
//
// The session answers IQ ping, disco#info (listing only what it handles)
// and jabber:iq:version; every other get or set is answered with
// service-unavailable. Roster pushes are accepted only from the account
// itself, carbons only when sent by the account's bare JID: anything else
// would let a contact forge roster changes or messages.
//
// The session also offers group chats (JoinRoom, LeaveRoom; occupants
// arrive as Presence with MUC data; InviteToRoom, SetRole,
// AcceptRoomDefaults, RoomItems), archive queries (QueryArchive,
// XEP-0313), bookmarks (Bookmarks, SetBookmark, RemoveBookmark,
// XEP-0402/0048), read state (DisplayedMarkers, PublishDisplayed: the
// account's XEP-0490 markers, whose changes by other clients arrive as
// Displayed, since the session announces +notify for them; SendDisplayed,
// XEP-0333; Message.Markable), replies, reactions and corrections
// (Message.Reply with ReplyText, the body without the XEP-0428 fallback
// counted in code points; Message.Reactions, at most MaxReactions;
// Message.Replace; OutMessage.Reply, Reactions, Replace: XEP-0461, 0444,
// 0308, all announced in disco#info), file links (Message.OOB and
// OutMessage.OOBURL, XEP-0066), file uploads (FindUploadService,
// RequestUploadSlot, XEP-0363), retractions (SendRetraction, XEP-0424;
// ModerateMessage, XEP-0425; Message.Retract), delivery receipts
// (SendReceipt, XEP-0184; Message.ReceiptRequest, ReceiptFor), the block
// list (GetBlockList, Block, Unblock, XEP-0191; changes by other clients
// arrive as BlockPush), the name of a message's end-to-end encryption
// (Message.Encryption), and a generic SendIQ that waits for its answer.
// PEP notifications
// and block list pushes are accepted only from the account itself.
//
// # Requests
//
// Requests never block on the server. Those whose answer matters return
// an id, and the answer arrives through NextEvent as exactly one event
// carrying that id (RequestDone, ArchivePage, RoomList, BookmarkList,
// DisplayedList, UploadService, UploadSlot): the result,
// or the failure when the server refuses, the request's ctx ends first or
// the stream is lost (then before the Disconnected). The receiver handles
// answers in its own loop like any other event, and may drop an answer it
// no longer awaits.
//
// # JIDs
//
// A bare JID the session passes on (a roster item's, a subscription's
// sender, an invitation's room, a bookmark's) is BareJID's: localpart and
// domain in lower case, as RFC 7622 compares them case-insensitively;
// resources keep their case. ValidJID is the check the session applies to
// every JID it puts into a stanza, and receivers may apply to the JIDs
// they get.
//
// # Body rule
//
// The same rule applies to every text the session passes on (message
// bodies, subjects, statuses, roster names, error texts) in both
// directions, see CleanText:
//
//   - Text is kept as is otherwise: LF stays a line break inside the text
//     (splitting into lines is the receiver's business), "<", "&", quotes
//     and emoji arrive unchanged after XML unescaping.
//   - CR LF and a lone CR become LF.
//   - Control characters other than TAB and LF (U+0000–U+001F) are
//     removed: XML 1.0 cannot carry them.
//   - Invalid UTF-8 and the non-characters U+FFFE and U+FFFF become U+FFFD.
//
// Outgoing text is cleaned by the same rule and then escaped (&amp; &lt;
// &gt;, and quotes in attributes), so no text can inject markup. Incoming
// stanzas that are not well-formed XML are a stream error: the connection is
// dropped and re-established, nothing of the broken stanza is delivered.
// The session does not bound the size of incoming stanzas itself: it relies
// on the server's stanza size limits (Prosody: 256 KiB from clients, 512 KiB
// from other servers by default).
package xmpp
