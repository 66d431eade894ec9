using System.Text.Json;

namespace Switchboard.Client;

/// <summary>Settings of a <see cref="SwitchboardClient"/>.</summary>
public sealed class SwitchboardClientOptions
{
    /// <summary>The connection token (a JWT); null connects anonymously or asks <see cref="GetToken"/>.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Fetches a fresh connection token: called when there is no <see cref="Token"/>, when the server
    /// answers 109 (token expired) at connect, and before the connection expires (refresh).
    /// Returning an empty string means "no access": the client disconnects with code 3500.
    /// Without it, a 109 at connect disconnects the client for good (code 109).
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? GetToken { get; set; }

    /// <summary>Custom data sent with the connect command (for a connect proxy).</summary>
    public JsonElement? Data { get; set; }

    /// <summary>The client's name, sent to the server for its statistics.</summary>
    public string Name { get; set; } = "dotnet";

    /// <summary>The client's version, sent to the server.</summary>
    public string Version { get; set; } = "";

    /// <summary>The shortest wait before a reconnect attempt (default 500 ms).</summary>
    public TimeSpan MinReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait between reconnect attempts (default 20 s).</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long to wait for a reply to a command, and for the WebSocket to open (default 10 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long past the server's ping interval silence means a dead connection (default 10 s).</summary>
    public TimeSpan MaxServerPingDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock for every delay, timeout and expiry (default <see cref="TimeProvider.System"/>).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        if (MinReconnectDelay <= TimeSpan.Zero || MaxReconnectDelay < MinReconnectDelay)
        {
            throw new ArgumentException("Reconnect delays must be positive with MinReconnectDelay <= MaxReconnectDelay.");
        }
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Timeout must be positive.");
        }
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }
}
