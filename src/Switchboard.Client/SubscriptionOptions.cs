using System.Text.Json;

namespace Switchboard.Client;

/// <summary>Settings of a <see cref="Subscription"/>.</summary>
public sealed class SubscriptionOptions
{
    /// <summary>The subscription token (a JWT), needed for private (<c>$</c>-prefixed) channels.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Fetches a fresh subscription token for the channel: called for a private channel without a
    /// <see cref="Token"/>, when the server answers 109, and before the subscription expires.
    /// The argument is the channel. Returning an empty string means "no access": the subscription
    /// ends with code <see cref="UnsubscribeCodes.Unauthorized"/>.
    /// </summary>
    public Func<string, CancellationToken, ValueTask<string>>? GetToken { get; set; }

    /// <summary>Custom data sent with the subscribe command.</summary>
    public JsonElement? Data { get; set; }

    /// <summary>Ask for join and leave messages of the channel.</summary>
    public bool JoinLeave { get; set; }

    /// <summary>Ask for recovery of missed publications after a reconnect (where the channel allows it).</summary>
    public bool Recoverable { get; set; }

    /// <summary>Ask for a positioned subscription: the server checks that no publication goes missing.</summary>
    public bool Positioned { get; set; }
}
