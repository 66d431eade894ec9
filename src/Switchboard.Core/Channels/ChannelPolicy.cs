using System.Collections.Frozen;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Switchboard.Protocol;

namespace Switchboard.Channels;

/// <summary>
/// Resolves channel names to their namespace options and decides who may do what in a channel,
/// with Centrifugo's rules: <c>ns:rest</c> names a namespace, <c>$</c> makes a channel private,
/// <c>#a,b</c> limits it to users a and b.
/// </summary>
internal sealed class ChannelPolicy
{
    public const char NamespaceBoundary = ':';
    public const char PrivatePrefix = '$';
    public const char UserBoundary = '#';
    public const char UserSeparator = ',';

    private readonly ChannelOptions _topLevel;
    private readonly FrozenDictionary<string, ChannelOptions> _namespaces;
    private readonly FrozenDictionary<ChannelOptions, Regex> _regexes;
    private readonly int _maxChannelLength;

    public ChannelPolicy(IOptions<SwitchboardOptions> options)
    {
        var o = options.Value;
        _topLevel = o.Channel;
        _namespaces = o.Namespaces.ToFrozenDictionary(StringComparer.Ordinal);
        _maxChannelLength = o.Client.MaxChannelLength;
        _regexes = o.Namespaces.Values.Append(o.Channel)
            .Where(n => !string.IsNullOrEmpty(n.ChannelRegex))
            .Distinct()
            .ToFrozenDictionary(n => n, n => new Regex(n.ChannelRegex!, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
    }

    /// <summary>Resolves a channel or throws the protocol error a client should see (107 or 102).</summary>
    public ChannelRule Resolve(string? channel)
    {
        if (string.IsNullOrEmpty(channel) || channel.Length > _maxChannelLength)
        {
            throw ProtocolException.BadRequest("bad channel name");
        }
        var name = channel.AsSpan();
        var isPrivate = name[0] == PrivatePrefix;
        if (isPrivate)
        {
            name = name[1..];
        }
        string? ns = null;
        var options = _topLevel;
        var colon = name.IndexOf(NamespaceBoundary);
        if (colon >= 0)
        {
            ns = name[..colon].ToString();
            if (!_namespaces.TryGetValue(ns, out var nsOptions))
            {
                throw ChannelRule.Unknown;
            }
            options = nsOptions;
            name = name[(colon + 1)..];
        }
        if (_regexes.TryGetValue(options, out var regex) && !regex.IsMatch(name))
        {
            throw ChannelRule.Unknown;
        }
        List<string>? users = null;
        if (options.AllowUserLimitedChannels)
        {
            var hash = name.LastIndexOf(UserBoundary);
            if (hash >= 0)
            {
                users = [.. name[(hash + 1)..].ToString().Split(UserSeparator, StringSplitOptions.RemoveEmptyEntries)];
            }
        }
        return new ChannelRule(channel, ns, options, isPrivate, users);
    }

    /// <summary>May this client subscribe without a subscription token?</summary>
    public static bool CanSubscribeWithoutToken(ChannelRule rule, string user)
    {
        if (rule.IsPrivate)
        {
            return false;
        }
        if (rule.IsUserLimited)
        {
            return rule.UserAllowed(user);
        }
        var o = rule.Options;
        return o.AllowSubscribeForClient && (user.Length > 0 || o.AllowSubscribeForAnonymous);
    }

    /// <summary>May this client publish from the client side?</summary>
    public static bool CanPublish(ChannelRule rule, string user, bool subscribed)
    {
        var o = rule.Options;
        if (user.Length == 0 && !o.AllowPublishForAnonymous)
        {
            return false;
        }
        return o.AllowPublishForClient || (o.AllowPublishForSubscriber && subscribed);
    }

    /// <summary>May this client read history?</summary>
    public static bool CanReadHistory(ChannelRule rule, string user, bool subscribed)
    {
        var o = rule.Options;
        if (user.Length == 0 && !o.AllowHistoryForAnonymous)
        {
            return false;
        }
        return o.AllowHistoryForClient || (o.AllowHistoryForSubscriber && subscribed);
    }

    /// <summary>May this client read presence?</summary>
    public static bool CanReadPresence(ChannelRule rule, string user, bool subscribed)
    {
        var o = rule.Options;
        if (user.Length == 0 && !o.AllowPresenceForAnonymous)
        {
            return false;
        }
        return o.AllowPresenceForClient || (o.AllowPresenceForSubscriber && subscribed);
    }
}
