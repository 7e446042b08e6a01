-- Done customer-facing activities (types in var customer_facing_activity_types).
with activities as (
    select * from {{ ref('int_activities_unioned') }}
),

final as (
    select *
    from activities
    where
        is_done
        and done_at is not null
        and activity_type in (
            {%- for t in var('customer_facing_activity_types') -%}
                '{{ t | lower }}'{{ ", " if not loop.last }}
            {%- endfor -%}
        )
)

select * from final
