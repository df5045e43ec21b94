package ircd

import (
	"context"
	"fmt"
	"net"

	"gopkg.in/irc.v4"
)

// Backend is the gateway behind the IRC server: everything that concerns
// state beyond one connection (channels, other users, the user's away state)
// lives there. ircd calls it from connection goroutines.
type Backend interface {
	// CheckNick is asked before a client registers with nick, and before a
	// registered client's NICK is dispatched to its Session. It returns nil
	// when the nick may be used, or an *Error (usually 433 ERR_NICKNAMEINUSE)
	// for a name the user may never have (the backend's service nick). A name
	// the backend only lends to others (a contact, an occupant) is allowed:
	// the backend moves its holder aside in Attach or in the NICK handler.
	CheckNick(nick string) error

	// Features is asked once, by NewServer: the commands, capabilities and
	// ISUPPORT tokens the backend adds to ircd's own.
	Features() Features

	// Attach is called once a client has registered and received its welcome
	// burst and MOTD. The returned Session receives every command ircd does not
	// handle itself, until Detach.
	Attach(d Downstream) Session
}

// Accounts serves many users from one server, each with their own Backend
// (multi-user mode, NewMultiUserServer). A client names its account with
// SASL PLAIN or PASS; from its login on, the connection talks to that
// account's Backend only, and everything ircd answers itself about other
// clients (LUSERS, capability changes) counts only the clients of the same
// Backend.
type Accounts interface {
	// Features is asked once, by NewMultiUserServer: every Backend that
	// Login returns has these features.
	Features() Features
	// Login checks the credentials and returns the account's Backend and
	// its name, or an error whose text is shown to the client (so it names
	// the cause without secrets). It may block (it runs on the client's
	// own goroutine) until ctx ends. Login is called concurrently.
	Login(ctx context.Context, cred Credentials) (Backend, string, error)
}

// Credentials is what a client authenticates with.
type Credentials struct {
	// Account is the SASL PLAIN authentication identity; "" for PASS,
	// whose whole text is then in Password.
	Account  string
	Password string
	// Addr is the client's address.
	Addr net.Addr
	// Notice, set by the server, tells the client something while Login
	// keeps it waiting (a server NOTICE before registration).
	Notice func(text string)
}

// Features is what a backend adds to the server. ircd itself handles
// registration and the connection (PASS NICK USER CAP AUTHENTICATE PING
// PONG QUIT MOTD LUSERS VERSION TIME, the user's own MODE, SETNAME's
// checks) and the capabilities of the protocol itself (cap-notify sasl
// message-tags batch labeled-response); a new command or capability of the
// gateway is an entry here, not an edit of ircd.
type Features struct {
	// Commands the backend handles, by upper-case name, each with the
	// number of parameters it needs at least: a registered client's
	// command with fewer is answered with 461 ERR_NEEDMOREPARAMS, a
	// command neither ircd nor the backend knows with 421.
	Commands map[string]int
	// Caps are the IRCv3 capabilities the backend implements, as "name"
	// or "name=value" (the CAP LS 302 value). Server.SetCapAvailable
	// withdraws and offers them again. Together with ircd's own there may
	// be at most 64 (NewServer panics otherwise).
	Caps []string
	// ISupport are the backend's RPL_ISUPPORT tokens ("PREFIX=(ov)@+"),
	// listed together with ircd's own.
	ISupport []string
}

// Session is one attached client as the backend sees it.
type Session interface {
	// Handle runs one command of Features.Commands, and NICK (a registered
	// client's new nick, checked to be valid and CheckNick'ed; the backend
	// announces it and answers Nick with it from then on), SETNAME
	// (checked) and channel MODE when the backend lists them. The
	// parameter count has already been checked. When the backend offers
	// MultilineCap, a client's multiline batch arrives as one PRIVMSG or
	// NOTICE whose text has "\n" between its lines.
	//
	// Replies that answer the command go through r.Reply or r.Numeric so that
	// labeled-response can wrap them; a returned *Error is sent as a numeric
	// reply; any other error is logged and answered with a generic 400. Handle
	// may block until the backend has processed the command; it must not block
	// on network I/O to the client.
	Handle(r *Request) error

	// Nick is the client's nick from Attach on: the backend owns it (it may
	// be shared by several clients, and outlive them), and ircd asks for it
	// whenever it needs it. It is called from any goroutine.
	Nick() string

	// Detach is called once when the client is gone (QUIT, error, timeout,
	// shutdown). reason is the QUIT reason or a description of the failure.
	Detach(reason string)
}

// Downstream is a registered client connection. Every method is safe to call
// from any goroutine: sending only enqueues.
type Downstream interface {
	// ID is unique for the lifetime of the server.
	ID() uint64
	// Nick, User and Host describe the client's own prefix. Nick is the
	// nick the client registered with until Attach has returned, then
	// Session.Nick.
	Nick() string
	User() string
	Host() string
	// RealName is the real name the client gave in USER.
	RealName() string
	// Account is the SASL or PASS account the client authenticated as, if any.
	Account() string
	// ClientName is the name the client gave itself with a username
	// suffix "@NAME" (in USER, or in the SASL PLAIN authorization
	// identity); "" when it gave none (see ParseClientName).
	ClientName() string
	// HasCap reports whether the client negotiated the IRCv3 capability.
	HasCap(name string) bool
	// ServerName is the server's name for message prefixes.
	ServerName() string
	// Send enqueues a message. Tags the client did not negotiate are removed,
	// CR/LF/NUL never leave, and overlong text is split at the output edge.
	// A client whose queue overflows is disconnected, with ERROR
	// "SendQ exceeded" when it can still take it; Send never blocks.
	Send(m *irc.Message)
	// Close sends ERROR with reason and disconnects the client.
	Close(reason string)
}

// Request is one dispatched command and the replies collected for it.
type Request struct {
	// Msg is the command as received; Msg.Command is upper case.
	Msg *irc.Message
	// Client is the connection the command came from.
	Client Downstream

	replies []*irc.Message
	after   []func()
}

// AfterReplies registers f to run on the client's connection once the
// replies have been queued for sending, before its next command is read: a
// backend that answers a command late can hold back what it sends the
// client meanwhile until then, so that it does not overtake the answer.
func (r *Request) AfterReplies(f func()) { r.after = append(r.after, f) }

// finish runs what AfterReplies registered, once the replies are queued.
func (r *Request) finish() {
	for _, f := range r.after {
		f()
	}
	r.after = nil
}

// Reply adds a reply to the command. Replies are sent in order when Handle
// returns, wrapped in a labeled-response batch when the client asked for one.
func (r *Request) Reply(m *irc.Message) { r.replies = append(r.replies, m) }

// Numeric adds a numeric reply from the server to the client: the client's
// nick is prepended to params.
func (r *Request) Numeric(code string, params ...string) {
	r.Reply(&irc.Message{
		Prefix:  &irc.Prefix{Name: r.Client.ServerName()},
		Command: code,
		Params:  append([]string{r.Client.Nick()}, params...),
	})
}

// Fail adds an IRCv3 standard reply "FAIL <command> <code> [<context>...]
// :<text>" for the command being handled.
func (r *Request) Fail(code string, context []string, text string) {
	r.Reply(standardReply(r.Client.ServerName(), "FAIL", r.Msg.Command, code, context, text))
}

// standardReply builds a FAIL, WARN or NOTE message (IRCv3 standard
// replies) from the server.
func standardReply(server, kind, command, code string, context []string, text string) *irc.Message {
	params := append([]string{command, code}, context...)
	return &irc.Message{Prefix: &irc.Prefix{Name: server}, Command: kind, Params: append(params, text)}
}

// Replies returns what has been collected so far.
func (r *Request) Replies() []*irc.Message { return r.replies }

// Error is an IRC error reply: a numeric and its parameters after the
// client's nick, e.g. &Error{Code: irc.ERR_NOSUCHNICK, Params: []string{nick, "No such nick/channel"}}.
type Error struct {
	Code   string
	Params []string
}

func (e *Error) Error() string { return fmt.Sprintf("%s %v", e.Code, e.Params) }

// Errorf returns an *Error whose last parameter is the formatted text.
func Errorf(code string, params []string, format string, args ...any) *Error {
	return &Error{Code: code, Params: append(append([]string(nil), params...), fmt.Sprintf(format, args...))}
}
