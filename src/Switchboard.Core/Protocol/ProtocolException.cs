namespace Switchboard.Protocol;

/// <summary>
/// Thrown by handlers and extension points to answer a command with a protocol error.
/// </summary>
public sealed class ProtocolException : Exception
{
    /// <summary>Creates an error answer.</summary>
    public ProtocolException(uint code, string message, bool temporary = false)
        : base(message)
    {
        Code = code;
        Temporary = temporary;
    }

    /// <summary>Creates an internal error answer.</summary>
    public ProtocolException() : this(ErrorCodes.Internal, "internal server error", true)
    {
    }

    /// <summary>Creates an internal error answer with a message.</summary>
    public ProtocolException(string message) : this(ErrorCodes.Internal, message, true)
    {
    }

    /// <summary>Creates an internal error answer wrapping another exception.</summary>
    public ProtocolException(string message, Exception innerException) : base(message, innerException)
    {
        Code = ErrorCodes.Internal;
        Temporary = true;
    }

    /// <summary>The error code.</summary>
    public uint Code { get; }

    /// <summary>Whether the client may retry.</summary>
    public bool Temporary { get; }

    internal Error ToError() => new() { Code = Code, Message = Message, Temporary = Temporary };

    internal static ProtocolException BadRequest(string message = "bad request") => new(ErrorCodes.BadRequest, message);
    internal static ProtocolException PermissionDenied() => new(ErrorCodes.PermissionDenied, "permission denied");
    internal static ProtocolException UnknownChannel() => new(ErrorCodes.UnknownChannel, "unknown channel");
    internal static ProtocolException NotAvailable() => new(ErrorCodes.NotAvailable, "not available");
}

/// <summary>A reason to close a connection: a disconnect code and a short reason.</summary>
public sealed record Disconnect(ushort Code, string Reason)
{
    /// <summary>Whether the client should reconnect.</summary>
    public bool Reconnect => DisconnectCodes.Reconnects(Code);

    internal static readonly Disconnect BadRequest = new(DisconnectCodes.BadRequest, "bad request");
    internal static readonly Disconnect InvalidToken = new(DisconnectCodes.InvalidToken, "invalid token");
    internal static readonly Disconnect Shutdown = new(DisconnectCodes.Shutdown, "shutdown");
    internal static readonly Disconnect Expired = new(DisconnectCodes.Expired, "expired");
    internal static readonly Disconnect NoPong = new(DisconnectCodes.NoPong, "no pong");
    internal static readonly Disconnect Slow = new(DisconnectCodes.Slow, "slow");
    internal static readonly Disconnect WriteError = new(DisconnectCodes.WriteError, "write error");
    internal static readonly Disconnect Stale = new(DisconnectCodes.Stale, "stale");
    internal static readonly Disconnect ServerError = new(DisconnectCodes.ServerError, "internal server error");
    internal static readonly Disconnect ForceNoReconnect = new(DisconnectCodes.ForceNoReconnect, "force disconnect");
    internal static readonly Disconnect ForceReconnect = new(DisconnectCodes.ForceReconnect, "force reconnect");
    internal static readonly Disconnect ConnectionClosed = new(DisconnectCodes.ConnectionClosed, "connection closed");
    internal static readonly Disconnect TooManyRequests = new(DisconnectCodes.TooManyRequests, "too many requests");
    internal static readonly Disconnect ConnectionLimit = new(DisconnectCodes.ConnectionLimit, "connection limit");
    internal static readonly Disconnect MessageTooBig = new(1009, "message too big");
}

/// <summary>Thrown inside command handling when the connection must be closed.</summary>
internal sealed class DisconnectException(Disconnect disconnect) : Exception(disconnect.Reason)
{
    public Disconnect Disconnect { get; } = disconnect;
}
