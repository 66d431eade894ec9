using System.Text.Json;

namespace Switchboard.Client;

// The arguments of the client's and the subscriptions' events. Events are raised one at a time,
// in the order things happened, on a thread of the client's own (never under its locks); an
// exception thrown by a handler is swallowed so it cannot stop the client.

/// <summary>Why the client is (re)connecting.</summary>
public sealed class ConnectingEventArgs(int code, string reason) : EventArgs
{
    /// <summary>The code: <see cref="DisconnectCodes.ConnectCalled"/>, a close code, or a client code.</summary>
    public int Code { get; } = code;

    /// <summary>A short description.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The client has connected.</summary>
public sealed class ConnectedEventArgs(string clientId, string version, JsonElement data) : EventArgs
{
    /// <summary>The connection id the server assigned.</summary>
    public string ClientId { get; } = clientId;

    /// <summary>The server's version.</summary>
    public string Version { get; } = version;

    /// <summary>Data from the server (e.g. from a connect proxy), or <see cref="JsonValueKind.Undefined"/>.</summary>
    public JsonElement Data { get; } = data;
}

/// <summary>The client is disconnected and will not reconnect by itself.</summary>
public sealed class DisconnectedEventArgs(int code, string reason) : EventArgs
{
    /// <summary>The close code (3500–3999, 4500–4999), a refusing error code, or <see cref="DisconnectCodes.DisconnectCalled"/>.</summary>
    public int Code { get; } = code;

    /// <summary>A short description.</summary>
    public string Reason { get; } = reason;
}

/// <summary>Something failed that the client or subscription handles by itself (a retry follows or the state changes).</summary>
public sealed class SwitchboardErrorEventArgs(string type, Exception exception) : EventArgs
{
    /// <summary>What failed: "transport", "connect", "refresh", "subscribe", "subRefresh", "token".</summary>
    public string Type { get; } = type;

    /// <summary>The error; a <see cref="SwitchboardException"/> for a protocol error.</summary>
    public Exception Exception { get; } = exception;
}

/// <summary>A message from the server to this client (not through a channel).</summary>
public sealed class MessageEventArgs(JsonElement data) : EventArgs
{
    /// <summary>The message.</summary>
    public JsonElement Data { get; } = data;
}

/// <summary>The subscription is (re)subscribing.</summary>
public sealed class SubscribingEventArgs(int code, string reason) : EventArgs
{
    /// <summary>0 when <see cref="Subscription.SubscribeAsync"/> was called; otherwise what interrupted the subscription (a client disconnect code or an unsubscribe code ≥ 2500).</summary>
    public int Code { get; } = code;

    /// <summary>A short description.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The subscription is subscribed.</summary>
public sealed class SubscribedEventArgs(bool wasRecovering, bool recovered, bool positioned, bool recoverable, StreamPosition? streamPosition, JsonElement data) : EventArgs
{
    /// <summary>True when the client asked to recover missed publications.</summary>
    public bool WasRecovering { get; } = wasRecovering;

    /// <summary>True when every missed publication was recovered (they are delivered right after this event).</summary>
    public bool Recovered { get; } = recovered;

    /// <summary>True when the subscription is positioned.</summary>
    public bool Positioned { get; } = positioned;

    /// <summary>True when the subscription is recoverable.</summary>
    public bool Recoverable { get; } = recoverable;

    /// <summary>The stream's position at subscribe time, for a positioned or recoverable subscription.</summary>
    public StreamPosition? StreamPosition { get; } = streamPosition;

    /// <summary>Data from the server, or <see cref="JsonValueKind.Undefined"/>.</summary>
    public JsonElement Data { get; } = data;
}

/// <summary>The subscription is unsubscribed and will not resubscribe by itself.</summary>
public sealed class UnsubscribedEventArgs(int code, string reason) : EventArgs
{
    /// <summary>A code from <see cref="UnsubscribeCodes"/>, the server's unsubscribe code, or the subscribe error code.</summary>
    public int Code { get; } = code;

    /// <summary>A short description.</summary>
    public string Reason { get; } = reason;
}

/// <summary>A publication arrived in a subscribed channel.</summary>
public sealed class PublicationEventArgs(string channel, Publication publication) : EventArgs
{
    /// <summary>The channel.</summary>
    public string Channel { get; } = channel;

    /// <summary>The publication.</summary>
    public Publication Publication { get; } = publication;
}

/// <summary>A client joined or left a subscribed channel.</summary>
public sealed class PresenceEventArgs(string channel, ClientInfo info) : EventArgs
{
    /// <summary>The channel.</summary>
    public string Channel { get; } = channel;

    /// <summary>The client that joined or left.</summary>
    public ClientInfo Info { get; } = info;
}
