namespace Switchboard.Client;

/// <summary>Error codes a <see cref="SwitchboardException"/> carries: the client's own (below 100) and the server's.</summary>
public static class ErrorCodes
{
    /// <summary>The client: no reply within <see cref="SwitchboardClientOptions.Timeout"/>.</summary>
    public const uint Timeout = 1;

    /// <summary>The client: the connection closed before the reply arrived.</summary>
    public const uint ConnectionClosed = 2;

    /// <summary>The client is disconnected (and not trying to connect).</summary>
    public const uint ClientDisconnected = 3;

    /// <summary>The client was disposed.</summary>
    public const uint ClientClosed = 4;

    /// <summary>The subscription was unsubscribed while the operation waited.</summary>
    public const uint SubscriptionUnsubscribed = 7;

    /// <summary>The server: internal error (temporary).</summary>
    public const uint Internal = 100;

    /// <summary>The server: unauthorized.</summary>
    public const uint Unauthorized = 101;

    /// <summary>The server: the channel's namespace is not defined.</summary>
    public const uint UnknownChannel = 102;

    /// <summary>The server: permission denied.</summary>
    public const uint PermissionDenied = 103;

    /// <summary>The server: method not found (e.g. no RPC handler for the method).</summary>
    public const uint MethodNotFound = 104;

    /// <summary>The server: already subscribed.</summary>
    public const uint AlreadySubscribed = 105;

    /// <summary>The server: a limit was exceeded.</summary>
    public const uint LimitExceeded = 106;

    /// <summary>The server: bad request.</summary>
    public const uint BadRequest = 107;

    /// <summary>The server: the feature is off for this channel.</summary>
    public const uint NotAvailable = 108;

    /// <summary>The server: the token has expired (the client asks for a new one and retries).</summary>
    public const uint TokenExpired = 109;

    /// <summary>The server: expired.</summary>
    public const uint Expired = 110;

    /// <summary>The server: too many requests (temporary).</summary>
    public const uint TooManyRequests = 111;

    /// <summary>The server: the stream position is not recoverable (another epoch).</summary>
    public const uint UnrecoverablePosition = 112;
}
