using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Switchboard.Auth;

namespace Switchboard.Channels;

/// <summary>Checks the configuration at start-up; every failure names the configuration key.</summary>
internal sealed partial class SwitchboardOptionsValidator : IValidateOptions<SwitchboardOptions>
{
    [GeneratedRegex("^[-a-zA-Z0-9_]{2,}$")]
    private static partial Regex NamespaceName();

    public ValidateOptionsResult Validate(string? name, SwitchboardOptions options)
    {
        var errors = new List<string>();
        const string root = SwitchboardOptions.Section;
        if (options.Engine is not ("memory" or "redis"))
        {
            errors.Add($"{root}:Engine: must be memory or redis (was '{options.Engine}').");
        }
        ValidateRedis($"{root}:Redis", options.Redis, errors);
        ValidateClient($"{root}:Client", options.Client, errors);
        ValidateChannel($"{root}:Channel", options.Channel, errors);
        foreach (var (ns, nsOptions) in options.Namespaces)
        {
            if (!NamespaceName().IsMatch(ns))
            {
                errors.Add($"{root}:Namespaces:{ns}: a namespace name must match ^[-a-zA-Z0-9_]{{2,}}$.");
            }
            ValidateChannel($"{root}:Namespaces:{ns}", nsOptions, errors);
        }
        var secret = options.Token.HmacSecretKey;
        if (secret is not null && Encoding.UTF8.GetByteCount(secret) < 32)
        {
            errors.Add($"{root}:Token:HmacSecretKey: must be at least 32 bytes (256 bits) for HS256.");
        }
        if (options.Token.ClockSkew < TimeSpan.Zero)
        {
            errors.Add($"{root}:Token:ClockSkew: must not be negative.");
        }
        Auth.TokenKeyConfiguration.Validate($"{root}:Token", options.Token, errors);
        if (options.Api.Key is { Length: > 0 and < 16 })
        {
            errors.Add($"{root}:Api:Key: must be at least 16 characters.");
        }
        if (options.Drain.Window < TimeSpan.Zero)
        {
            errors.Add($"{root}:Drain:Window: must not be negative.");
        }
        if (options.Drain.Batches <= 0)
        {
            errors.Add($"{root}:Drain:Batches: must be positive.");
        }
        ValidateRateLimit($"{root}:RateLimits:Api", options.RateLimits.Api, errors);
        ValidateRateLimit($"{root}:RateLimits:ApiUnauthorized", options.RateLimits.ApiUnauthorized, errors);
        ValidateRateLimit($"{root}:RateLimits:SignIn", options.RateLimits.SignIn, errors);
        ValidateRateLimit($"{root}:RateLimits:Token", options.RateLimits.Token, errors);
        ValidateRateLimit($"{root}:RateLimits:LongPoll", options.RateLimits.LongPoll, errors);
        ValidateLongPoll($"{root}:LongPoll", options.LongPoll, errors);
        if (string.IsNullOrWhiteSpace(options.NodeName))
        {
            errors.Add($"{root}:NodeName: must not be empty.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateLongPoll(string key, LongPollOptions o, List<string> errors)
    {
        if (o.MaxTimeout < TimeSpan.Zero || o.MaxTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{key}:MaxTimeout: must be between 0 and 10 minutes.");
        }
        if (o.MaxChannels <= 0)
        {
            errors.Add($"{key}:MaxChannels: must be positive.");
        }
        if (o.MaxPublications <= 0)
        {
            errors.Add($"{key}:MaxPublications: must be positive.");
        }
        if (o.MaxBodyBytes < 1024)
        {
            errors.Add($"{key}:MaxBodyBytes: must be at least 1024.");
        }
        if (o.MaxAnswerBytes < 1024)
        {
            errors.Add($"{key}:MaxAnswerBytes: must be at least 1024.");
        }
    }

    private static void ValidateRedis(string key, RedisOptions r, List<string> errors)
    {
        if (string.IsNullOrEmpty(r.Prefix) || r.Prefix.IndexOfAny(['{', '}']) >= 0)
        {
            errors.Add($"{key}:Prefix: must be non-empty and contain no braces (they are Redis Cluster hash tags).");
        }
        if (r.Addresses.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{key}:Addresses: an address is empty.");
        }
        if (r.NodeHeartbeatInterval <= TimeSpan.Zero)
        {
            errors.Add($"{key}:NodeHeartbeatInterval: must be positive.");
        }
        if (r.NodeTtl <= r.NodeHeartbeatInterval)
        {
            errors.Add($"{key}:NodeTtl: must be longer than NodeHeartbeatInterval.");
        }
    }

    private static void ValidateClient(string key, ClientOptions c, List<string> errors)
    {
        Positive($"{key}:PingInterval", c.PingInterval, errors);
        Positive($"{key}:PongTimeout", c.PongTimeout, errors);
        Positive($"{key}:ConnectTimeout", c.ConnectTimeout, errors);
        Positive($"{key}:PresenceUpdateInterval", c.PresenceUpdateInterval, errors);
        Positive($"{key}:PresenceTtl", c.PresenceTtl, errors);
        Positive($"{key}:IdempotentResultTtl", c.IdempotentResultTtl, errors);
        if (c.PongTimeout >= c.PingInterval)
        {
            errors.Add($"{key}:PongTimeout: must be shorter than PingInterval.");
        }
        if (c.PresenceTtl <= c.PresenceUpdateInterval)
        {
            errors.Add($"{key}:PresenceTtl: must be longer than PresenceUpdateInterval.");
        }
        if (c.ExpiredCloseDelay < TimeSpan.Zero)
        {
            errors.Add($"{key}:ExpiredCloseDelay: must not be negative.");
        }
        if (c.ExpiredSubCloseDelay < TimeSpan.Zero)
        {
            errors.Add($"{key}:ExpiredSubCloseDelay: must not be negative.");
        }
        PositiveInt($"{key}:RecoveryMaxPublicationLimit", c.RecoveryMaxPublicationLimit, errors);
        PositiveInt($"{key}:HistoryMaxPublicationLimit", c.HistoryMaxPublicationLimit, errors);
        PositiveInt($"{key}:ChannelLimit", c.ChannelLimit, errors);
        Positive($"{key}:WriteTimeout", c.WriteTimeout, errors);
        PositiveInt($"{key}:MaxPublicationBytes", c.MaxPublicationBytes, errors);
        PositiveInt($"{key}:CommandBurst", c.CommandBurst, errors);
        PositiveInt($"{key}:FloodDisconnectAfter", c.FloodDisconnectAfter, errors);
        if (c.CommandRate <= 0 || double.IsNaN(c.CommandRate))
        {
            errors.Add($"{key}:CommandRate: must be positive.");
        }
        if (c.UserConnectionLimit < 0)
        {
            errors.Add($"{key}:UserConnectionLimit: must not be negative (0 = no limit).");
        }
        if (c.MaxConnections < 0)
        {
            errors.Add($"{key}:MaxConnections: must not be negative (0 = no limit).");
        }
        PositiveInt($"{key}:MaxChannelLength", c.MaxChannelLength, errors);
        PositiveInt($"{key}:QueueMaxBytes", c.QueueMaxBytes, errors);
        PositiveInt($"{key}:MaxFrameBytes", c.MaxFrameBytes, errors);
        PositiveInt($"{key}:MaxMessageBytes", c.MaxMessageBytes, errors);
        for (var i = 0; i < c.AllowedOrigins.Count; i++)
        {
            if (!OriginList.IsValidEntry(c.AllowedOrigins[i]))
            {
                errors.Add($"{key}:AllowedOrigins:{i}: must be * or an origin such as https://app.example.com (scheme, host and optional port; no path) (was '{c.AllowedOrigins[i]}').");
            }
        }
    }

    private static void ValidateRateLimit(string key, RateLimitRule rule, List<string> errors)
    {
        if (rule.PermitLimit < 0)
        {
            errors.Add($"{key}:PermitLimit: must not be negative (0 = no limit).");
        }
        if (rule.Window <= TimeSpan.Zero)
        {
            errors.Add($"{key}:Window: must be positive.");
        }
    }

    private static void ValidateChannel(string key, ChannelOptions o, List<string> errors)
    {
        if (o.HistorySize < 0)
        {
            errors.Add($"{key}:HistorySize: must not be negative.");
        }
        if (o.HistoryTtl < TimeSpan.Zero)
        {
            errors.Add($"{key}:HistoryTtl: must not be negative.");
        }
        if ((o.HistorySize > 0) != (o.HistoryTtl > TimeSpan.Zero))
        {
            errors.Add($"{key}:HistoryTtl: HistorySize and HistoryTtl must both be set (> 0) for history, or both left at 0.");
        }
        if (o.HasHistory && o.HistoryMetaTtl < o.HistoryTtl)
        {
            errors.Add($"{key}:HistoryMetaTtl: must not be shorter than HistoryTtl.");
        }
        if ((o.ForceRecovery || o.AllowRecovery) && !o.HasHistory)
        {
            errors.Add($"{key}:{(o.ForceRecovery ? "ForceRecovery" : "AllowRecovery")}: recovery needs history (HistorySize and HistoryTtl).");
        }
        if ((o.ForcePositioning || o.AllowPositioning) && !o.HasHistory)
        {
            errors.Add($"{key}:{(o.ForcePositioning ? "ForcePositioning" : "AllowPositioning")}: positioning needs history (HistorySize and HistoryTtl).");
        }
        if (o.ForcePushJoinLeave && !o.JoinLeave)
        {
            errors.Add($"{key}:ForcePushJoinLeave: needs JoinLeave.");
        }
        if (!string.IsNullOrEmpty(o.ChannelRegex))
        {
            try
            {
                _ = new Regex(o.ChannelRegex, RegexOptions.None, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException e)
            {
                errors.Add($"{key}:ChannelRegex: not a valid regular expression ({e.Message}).");
            }
        }
    }

    private static void Positive(string key, TimeSpan value, List<string> errors)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{key}: must be positive.");
        }
    }

    private static void PositiveInt(string key, int value, List<string> errors)
    {
        if (value <= 0)
        {
            errors.Add($"{key}: must be positive.");
        }
    }
}
