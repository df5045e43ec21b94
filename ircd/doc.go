// Package ircd is xircd's IRC server: listeners, connections, registration
// (PASS, NICK, USER, CAP, AUTHENTICATE PLAIN), the command table, numerics,
// ISUPPORT and the output edge. It knows nothing of XMPP: every command
// about other users and channels goes to a Backend.
//
// # Connections
//
// Each connection has a reader goroutine that reads bounded lines, parses
// them and runs commands one at a time (Session.Handle is called from it, so
// a client's commands are handled in order), and a writer goroutine that
// drains a queue bounded in bytes (Config.SendQueueBytes, 8 MiB by default,
// enough for a roster burst of tens of thousands of lines) with a write
// deadline. The writer runs only while the queue holds lines: the first
// line queued starts it and it ends once the queue is empty, so an idle
// client costs no writer goroutine. Downstream.Send only enqueues; a
// client whose queue overflows is disconnected without affecting anyone
// else: its queue is dropped, the backend's Detach follows at once, and
// once the write under way is done the writer tries, for a moment, to send
// "ERROR :SendQ exceeded" before it closes the socket, so that a client
// that merely lagged learns why. Replies to the client's own commands (and
// the welcome burst) instead wait, up to WriteTimeout, while the queue is
// more than half full: a long WHO or NAMES reply is paced by the client's
// reading and leaves the other half for asynchronous messages.
//
// Without Config.Password only loopback (and non-IP) peers are served;
// others get ERROR and are closed. With a password, PASS or SASL PLAIN must
// match it (compared in constant time): a missing or wrong PASS gets 464 and
// ERROR "Bad password" at registration; a failed AUTHENTICATE gets 904 and
// the third failure closes the connection.
//
// # Multi-user mode
//
// NewMultiUserServer serves many accounts, each with its own Backend, from
// any address. Every client logs in: AUTHENTICATE PLAIN (the
// authentication identity and password) or, at registration, PASS (its
// whole text) goes to Accounts.Login, which may take a while (it runs on
// the client's goroutine, bounded by RegistrationTimeout). A refused login
// gets 904 or 464 with the Accounts' reason and ERROR "Login failed:
// <reason>"; no login at all gets 464 and ERROR "Login required". From its
// login on, the connection talks only to its account's Backend, and LUSERS
// and run-time capability changes (CapSwitch) count only that Backend's
// clients. Features are asked once, from the Accounts: they are the same for
// every Backend.
//
// Timers (defaults in parentheses): RegistrationTimeout (60s) from connect;
// after registration, PingInterval (90s) of silence makes the server send
// PING, and PingTimeout (60s) without any line then closes the connection.
// Any received line counts as activity.
//
// # Input rules
//
//   - A line longer than 512 bytes (CR LF included) plus 8191 bytes of tag
//     section is answered with 417 ERR_INPUTTOOLONG and skipped up to its
//     newline; the read buffer has a fixed size.
//   - Empty lines are ignored. A line that does not parse (including those
//     that make irc.ParseMessage panic, such as "@a=b ") is answered with
//     400 "* :Malformed line".
//   - A line that is not valid UTF-8 is not run; the client gets
//     "FAIL <command> INVALID_UTF8 :..." (ISUPPORT advertises UTF8ONLY).
//   - A panic in a handler or the backend is logged and closes only that
//     connection, with ERROR "Internal error".
//
// # Commands
//
// ircd answers PING, PONG, QUIT, MOTD, LUSERS, VERSION, TIME, CAP,
// AUTHENTICATE, PASS, USER, and MODE on the client's own nick (only +i is
// known and it is merely reported; 221, 501, 502). Every other command is
// the backend's: Backend.Features lists the commands it handles with the
// parameters each needs, and ircd routes them to the Session. Unknown
// commands get 421, commands before registration 451, missing parameters
// 461. NICK is checked with ValidNick (432) and Backend.CheckNick (433)
// before registration and before every change to a new name; a registered
// client's NICK then goes to the Session, which announces it: from Attach on
// the backend owns the nick (Session.Nick). SETNAME is checked (at most NameLen bytes, not blank;
// else "FAIL SETNAME INVALID_REALNAME") and then goes to the Session, which
// owns the user's real name. Channel MODE goes to the Session. Request.Fail
// adds an IRCv3 standard reply.
//
// Replies added with Request.Reply / Request.Numeric (and a returned *Error)
// are sent when Handle returns. For a client with labeled-response and a
// label tag, one reply carries the label, several are wrapped in a
// "labeled-response" BATCH, none produce ACK. Messages sent with
// Downstream.Send are never labeled, so an echo-message echo belongs in
// Request.Reply.
//
// # Capabilities and ISUPPORT
//
// ircd offers the capabilities it implements itself: cap-notify, sasl (only
// with a password), message-tags, batch and labeled-response; the backend
// adds its own (Features.Caps, e.g. server-time, echo-message). CAP LS 302
// gets values and multi-line replies, and keeps cap-notify on; REQ is
// all-or-nothing and is also allowed after registration.
// Server.SetCapAvailable withdraws or offers a capability (ircd's or the
// backend's) again at run time: clients with cap-notify get CAP DEL / CAP
// NEW, and a withdrawn capability is disabled for every client. The output
// edge strips tags and commands a client did not ask for (see FormatLines
// and tagCap/commandCap: account needs account-tag, SETNAME needs setname);
// what a backend capability changes beyond that is the backend's to honour
// via Downstream.HasCap. ISUPPORT lists ircd's tokens (CASEMAPPING,
// CHANTYPES, NAMELEN, NETWORK, NICKLEN, UTF8ONLY) with Features.ISupport.
//
// # Client batches
//
// When the backend offers draft/multiline (MultilineCap, with its max-bytes
// and max-lines), ircd takes BATCH from clients: it collects the lines of a
// multiline batch within those limits and hands the backend one PRIVMSG or
// NOTICE with the lines joined by "\n", labeled like the opening BATCH; a
// batch that breaks the rules gets FAIL BATCH MULTILINE_* when it closes
// (multiline.go).
package ircd
