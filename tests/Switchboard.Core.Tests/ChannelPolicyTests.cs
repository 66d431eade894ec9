using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests;

public class ChannelPolicyTests
{
    private readonly ChannelPolicy _policy = new(TestOptions.Create());

    [Fact]
    public void A_channel_takes_the_options_of_its_namespace()
    {
        var rule = _policy.Resolve("chat:room-1");
        Assert.Equal("chat", rule.Namespace);
        Assert.Equal(10, rule.Options.HistorySize);
        Assert.False(rule.IsPrivate);
    }

    [Fact]
    public void A_channel_without_a_namespace_takes_the_top_level_options()
    {
        var rule = _policy.Resolve("news");
        Assert.Null(rule.Namespace);
        Assert.False(rule.Options.HasHistory);
    }

    [Fact]
    public void An_undefined_namespace_is_an_unknown_channel()
    {
        var e = Assert.Throws<ProtocolException>(() => _policy.Resolve("nope:room"));
        Assert.Equal(ErrorCodes.UnknownChannel, e.Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void An_empty_channel_is_a_bad_request(string? channel)
    {
        var e = Assert.Throws<ProtocolException>(() => _policy.Resolve(channel));
        Assert.Equal(ErrorCodes.BadRequest, e.Code);
    }

    [Fact]
    public void A_channel_name_past_the_length_limit_is_a_bad_request()
    {
        var e = Assert.Throws<ProtocolException>(() => _policy.Resolve("chat:" + new string('x', 300)));
        Assert.Equal(ErrorCodes.BadRequest, e.Code);
    }

    [Fact]
    public void A_dollar_prefix_makes_a_channel_private_in_its_namespace()
    {
        var rule = _policy.Resolve("$chat:secret");
        Assert.True(rule.IsPrivate);
        Assert.Equal("chat", rule.Namespace);
        Assert.False(ChannelPolicy.CanSubscribeWithoutToken(rule, "alice"));
    }

    [Fact]
    public void A_user_limited_channel_admits_only_the_listed_users()
    {
        var rule = _policy.Resolve("dm:chat#alice,bob");
        Assert.True(ChannelPolicy.CanSubscribeWithoutToken(rule, "alice"));
        Assert.True(ChannelPolicy.CanSubscribeWithoutToken(rule, "bob"));
        Assert.False(ChannelPolicy.CanSubscribeWithoutToken(rule, "eve"));
        Assert.False(ChannelPolicy.CanSubscribeWithoutToken(rule, ""));
    }

    [Fact]
    public void The_hash_means_nothing_where_user_limited_channels_are_off()
    {
        var rule = _policy.Resolve("chat:room#alice");
        Assert.False(rule.IsUserLimited);
        Assert.True(ChannelPolicy.CanSubscribeWithoutToken(rule, "eve"));
    }

    [Fact]
    public void A_channel_regex_rejects_names_that_do_not_match()
    {
        Assert.Equal("ids", _policy.Resolve("ids:123").Namespace);
        var e = Assert.Throws<ProtocolException>(() => _policy.Resolve("ids:abc"));
        Assert.Equal(ErrorCodes.UnknownChannel, e.Code);
    }

    [Fact]
    public void Anonymous_clients_need_the_anonymous_options()
    {
        var chat = _policy.Resolve("chat:room");
        Assert.True(ChannelPolicy.CanSubscribeWithoutToken(chat, "alice"));
        Assert.False(ChannelPolicy.CanSubscribeWithoutToken(chat, ""));
        var open = _policy.Resolve("open:room");
        Assert.True(ChannelPolicy.CanSubscribeWithoutToken(open, ""));
        Assert.True(ChannelPolicy.CanPublish(open, "", subscribed: false));
    }

    [Fact]
    public void Publishing_for_subscribers_needs_a_subscription()
    {
        var chat = _policy.Resolve("chat:room");
        Assert.False(ChannelPolicy.CanPublish(chat, "alice", subscribed: false));
        Assert.True(ChannelPolicy.CanPublish(chat, "alice", subscribed: true));
        Assert.False(ChannelPolicy.CanPublish(chat, "", subscribed: true));
    }

    [Fact]
    public void History_and_presence_follow_their_own_options()
    {
        var chat = _policy.Resolve("chat:room");
        Assert.False(ChannelPolicy.CanReadHistory(chat, "alice", subscribed: false));
        Assert.True(ChannelPolicy.CanReadHistory(chat, "alice", subscribed: true));
        Assert.True(ChannelPolicy.CanReadPresence(chat, "alice", subscribed: false));
        Assert.False(ChannelPolicy.CanReadPresence(chat, "", subscribed: true));
    }
}
