namespace Switchboard.Protocol;

/// <summary>Error codes of command replies (PROTOCOL.md, "Errors").</summary>
public static class ErrorCodes
{
    /// <summary>Internal server error (temporary).</summary>
    public const uint Internal = 100;
    /// <summary>Unauthorized.</summary>
    public const uint Unauthorized = 101;
    /// <summary>Namespace not defined or channel name not allowed by the namespace.</summary>
    public const uint UnknownChannel = 102;
    /// <summary>Permission denied.</summary>
    public const uint PermissionDenied = 103;
    /// <summary>Method not found.</summary>
    public const uint MethodNotFound = 104;
    /// <summary>Already subscribed.</summary>
    public const uint AlreadySubscribed = 105;
    /// <summary>A limit was exceeded.</summary>
    public const uint LimitExceeded = 106;
    /// <summary>Bad request.</summary>
    public const uint BadRequest = 107;
    /// <summary>The feature is off for this channel.</summary>
    public const uint NotAvailable = 108;
    /// <summary>The token expired: the client should get a new one.</summary>
    public const uint TokenExpired = 109;
    /// <summary>Expired.</summary>
    public const uint Expired = 110;
    /// <summary>Too many requests (temporary).</summary>
    public const uint TooManyRequests = 111;
    /// <summary>The stream position is no longer valid.</summary>
    public const uint UnrecoverablePosition = 112;
}

/// <summary>Disconnect codes (PROTOCOL.md, "Disconnects").</summary>
public static class DisconnectCodes
{
    /// <summary>Connection closed.</summary>
    public const ushort ConnectionClosed = 3000;
    /// <summary>Server shutdown.</summary>
    public const ushort Shutdown = 3001;
    /// <summary>Internal server error.</summary>
    public const ushort ServerError = 3004;
    /// <summary>Connection expired.</summary>
    public const ushort Expired = 3005;
    /// <summary>Subscription expired.</summary>
    public const ushort SubExpired = 3006;
    /// <summary>Client too slow.</summary>
    public const ushort Slow = 3008;
    /// <summary>Write error.</summary>
    public const ushort WriteError = 3009;
    /// <summary>Insufficient state.</summary>
    public const ushort InsufficientState = 3010;
    /// <summary>Force reconnect.</summary>
    public const ushort ForceReconnect = 3011;
    /// <summary>No pong.</summary>
    public const ushort NoPong = 3012;
    /// <summary>Too many requests.</summary>
    public const ushort TooManyRequests = 3013;
    /// <summary>Invalid token.</summary>
    public const ushort InvalidToken = 3500;
    /// <summary>Bad request.</summary>
    public const ushort BadRequest = 3501;
    /// <summary>Stale connection.</summary>
    public const ushort Stale = 3502;
    /// <summary>Force disconnect.</summary>
    public const ushort ForceNoReconnect = 3503;
    /// <summary>Connection limit.</summary>
    public const ushort ConnectionLimit = 3504;
    /// <summary>Channel limit.</summary>
    public const ushort ChannelLimit = 3505;
    /// <summary>Inappropriate protocol.</summary>
    public const ushort InappropriateProtocol = 3506;
    /// <summary>Permission denied.</summary>
    public const ushort PermissionDenied = 3507;
    /// <summary>Not available.</summary>
    public const ushort NotAvailable = 3508;
    /// <summary>Too many errors.</summary>
    public const ushort TooManyErrors = 3509;

    /// <summary>Whether clients reconnect after this code.</summary>
    public static bool Reconnects(int code) => code is (>= 3000 and < 3500) or (>= 4000 and < 4500);
}

/// <summary>Unsubscribe push codes.</summary>
public static class UnsubscribeCodes
{
    /// <summary>Unsubscribed by the server: the client stays unsubscribed.</summary>
    public const uint Server = 2000;
    /// <summary>Insufficient state: the client resubscribes.</summary>
    public const uint InsufficientState = 2500;
    /// <summary>Subscription expired: the client resubscribes with a fresh token.</summary>
    public const uint Expired = 2501;
}
