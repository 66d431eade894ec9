using System.Text.Json.Serialization;
using Switchboard.Protocol;

namespace Switchboard.Auth;

/// <summary>The claims of a connection token that Switchboard reads.</summary>
internal sealed class ConnectTokenClaims
{
    public string? Sub { get; set; }
    public long? Exp { get; set; }
    public long? Iat { get; set; }
    public long? Nbf { get; set; }
    public string? Jti { get; set; }
    public RawJson Info { get; set; }
    [JsonPropertyName("b64info")]
    public string? B64Info { get; set; }
    public List<string>? Channels { get; set; }
    public Dictionary<string, SubscribeOptionsClaim>? Subs { get; set; }
    public RawJson Meta { get; set; }
    public long? ExpireAt { get; set; }
}

/// <summary>Per-channel options of a server-side subscription in the <c>subs</c> claim.</summary>
internal sealed class SubscribeOptionsClaim
{
    public RawJson Info { get; set; }
    [JsonPropertyName("b64info")]
    public string? B64Info { get; set; }
    public RawJson Data { get; set; }
    public SubscriptionOverride? Override { get; set; }
}

/// <summary>Channel options a token may override for one subscription.</summary>
internal sealed class SubscriptionOverride
{
    public BoolValue? Presence { get; set; }
    public BoolValue? JoinLeave { get; set; }
    public BoolValue? ForcePushJoinLeave { get; set; }
    public BoolValue? ForcePositioning { get; set; }
    public BoolValue? ForceRecovery { get; set; }
}

/// <summary>A boolean wrapped as <c>{"value": true}</c>, as in Centrifugo's override claim.</summary>
internal sealed class BoolValue
{
    public bool Value { get; set; }
}

/// <summary>The claims of a subscription token.</summary>
internal sealed class SubscribeTokenClaims
{
    public string? Sub { get; set; }
    public string? Channel { get; set; }
    public long? Exp { get; set; }
    public long? Iat { get; set; }
    public long? Nbf { get; set; }
    public string? Jti { get; set; }
    public RawJson Info { get; set; }
    [JsonPropertyName("b64info")]
    public string? B64Info { get; set; }
    public long? ExpireAt { get; set; }
    public SubscriptionOverride? Override { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ConnectTokenClaims))]
[JsonSerializable(typeof(SubscribeTokenClaims))]
internal sealed partial class TokenJsonContext : JsonSerializerContext;
