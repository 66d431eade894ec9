namespace Switchboard.Client;

/// <summary>Where a <see cref="SwitchboardClient"/> is in its life.</summary>
public enum ClientState
{
    /// <summary>Not connected and not trying to be.</summary>
    Disconnected,

    /// <summary>Opening a connection, or waiting to reconnect.</summary>
    Connecting,

    /// <summary>Connected: commands flow.</summary>
    Connected,
}

/// <summary>Where a <see cref="Subscription"/> is in its life.</summary>
public enum SubscriptionState
{
    /// <summary>Not subscribed and not trying to be.</summary>
    Unsubscribed,

    /// <summary>Subscribing, or waiting for the client to (re)connect to resubscribe.</summary>
    Subscribing,

    /// <summary>Subscribed: publications flow.</summary>
    Subscribed,
}

/// <summary>Codes of client-side disconnects and of the <see cref="SwitchboardClient.Connecting"/> event.</summary>
public static class DisconnectCodes
{
    /// <summary><see cref="SwitchboardClient.ConnectAsync"/> was called.</summary>
    public const int ConnectCalled = 0;

    /// <summary><see cref="SwitchboardClient.DisconnectAsync"/> was called.</summary>
    public const int DisconnectCalled = 0;

    /// <summary>The transport closed without a close frame, or could not open.</summary>
    public const int TransportClosed = 1;

    /// <summary>No ping from the server within ping interval + <see cref="SwitchboardClientOptions.MaxServerPingDelay"/>.</summary>
    public const int NoPing = 2;

    /// <summary>The token is no longer valid (<see cref="SwitchboardClientOptions.GetToken"/> returned an empty string).</summary>
    public const int Unauthorized = 3500;

    /// <summary>Whether the client reconnects after a close with this code (3000–3499, 4000–4499, and transport-level codes below 3000).</summary>
    /// <param name="code">The close code.</param>
    /// <returns>True for a code after which the client reconnects.</returns>
    public static bool ShouldReconnect(int code) => code is < 3500 or (>= 4000 and < 4500) or >= 5000;
}

/// <summary>Codes of the <see cref="Subscription.Unsubscribed"/> event besides the server's (2000–2499).</summary>
public static class UnsubscribeCodes
{
    /// <summary><see cref="Subscription.UnsubscribeAsync"/> was called.</summary>
    public const int UnsubscribeCalled = 0;

    /// <summary>The subscription token provider returned an empty string.</summary>
    public const int Unauthorized = 1;

    /// <summary>The client was disposed or disconnected for good.</summary>
    public const int ClientClosed = 2;

    /// <summary>The server unsubscribed the client (it stays unsubscribed).</summary>
    public const int ServerUnsubscribe = 2000;

    /// <summary>Whether the client resubscribes after an unsubscribe push with this code (2500 and above).</summary>
    /// <param name="code">The code of the unsubscribe push.</param>
    /// <returns>True for a code after which the client resubscribes.</returns>
    public static bool ShouldResubscribe(int code) => code >= 2500;
}
